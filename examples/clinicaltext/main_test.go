package main

import (
	"bytes"
	"regexp"
	"strconv"
	"testing"
)

func TestExampleRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on 1,600 abstracts twice: seconds; runs without -short")
	}
	var out bytes.Buffer
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	acc := regexp.MustCompile(`accuracy ([0-9.]+)`).FindAllStringSubmatch(out.String(), -1)
	if len(acc) != 2 {
		t.Fatalf("output lacks the two accuracies:\n%s", out.String())
	}
	plain, _ := strconv.ParseFloat(acc[0][1], 64)
	private, _ := strconv.ParseFloat(acc[1][1], 64)
	// Majority class 0.333; the non-private reference of the issue is 0.54–0.57.
	if plain < 0.5 || private < 0.34 || private > plain {
		t.Errorf("accuracy %v without privacy, %v at ε = 3:\n%s", plain, private, out.String())
	}
}
