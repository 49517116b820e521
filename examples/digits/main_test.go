package main

import (
	"bytes"
	"regexp"
	"strconv"
	"testing"
)

func TestExampleRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("ten encrypted rounds of a 4,810-parameter MLP over five hospitals; runs without -short")
	}
	var out bytes.Buffer
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`final: accuracy ([0-9.]+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no final line:\n%s", out.String())
	}
	if acc, _ := strconv.ParseFloat(m[1], 64); acc < 0.6 {
		t.Fatalf("accuracy %v over 10 classes: want well above chance", acc)
	}
}
