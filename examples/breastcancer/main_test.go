package main

import (
	"bytes"
	"regexp"
	"strconv"
	"testing"
)

func TestExampleRuns(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	acc := regexp.MustCompile(`(encrypted federation|same run unencrypted): +accuracy ([0-9.]+)`).FindAllStringSubmatch(out.String(), -1)
	if len(acc) != 2 {
		t.Fatalf("output lacks the two summaries:\n%s", out.String())
	}
	a, _ := strconv.ParseFloat(acc[0][2], 64)
	b, _ := strconv.ParseFloat(acc[1][2], 64)
	if a < 0.9 || a != b {
		t.Fatalf("encrypted accuracy %v, unencrypted %v: want ≥ 0.9 and equal", a, b)
	}
}
