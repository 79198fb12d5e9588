package main

import (
	"os"
	"strings"
	"testing"
)

func TestParseFlags(t *testing.T) {
	base := []string{"-dir", "/tmp/x", "-ort", "/tmp/lib.so"}
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
		cases   int
		threads []int
	}{
		{name: "defaults", args: base, cases: 1, threads: []int{1, 2}},
		{name: "list", args: append(base, "-cases", "resnet18@224, vgg16@320", "-threads", "2"), cases: 2, threads: []int{2}},
		{name: "no dir", args: []string{"-ort", "x"}, wantErr: "-dir and -ort are required"},
		{name: "no size", args: append(base, "-cases", "resnet18"), wantErr: `"resnet18" is not MODEL@SIZE`},
		{name: "tiny size", args: append(base, "-cases", "resnet18@8"), wantErr: "SIZE ≥ 32"},
		{name: "zero threads", args: append(base, "-threads", "0"), wantErr: `"0" is not a positive count`},
		{name: "zero reps", args: append(base, "-reps", "0"), wantErr: "want reps ≥ 1"},
		{name: "memory", args: append(base, "-memory", "/tmp/m", "-threads", "2"), cases: 1, threads: []int{2}},
		{name: "ort once", args: []string{"-ort-once", "x.onnx", "-ort", "lib.so", "-size", "224", "-threads", "2"}, cases: 1, threads: []int{2}},
		{name: "ort once without size", args: []string{"-ort-once", "x.onnx", "-ort", "lib.so"}, wantErr: "-ort-once needs -ort and -size ≥ 32"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseFlags(tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v; want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(c.cases) != tc.cases || len(c.threads) != len(tc.threads) {
				t.Fatalf("cases %v threads %v; want %d cases, threads %v", c.cases, c.threads, tc.cases, tc.threads)
			}
			for i, n := range tc.threads {
				if c.threads[i] != n {
					t.Errorf("threads[%d] = %d; want %d", i, c.threads[i], n)
				}
			}
		})
	}
}

func TestMedianAndRelErr(t *testing.T) {
	if m := median([]float64{5, 1, 3}); m != 3 {
		t.Errorf("median of 5 1 3 = %v; want 3", m)
	}
	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("median of 4 1 3 2 = %v; want 2.5", m)
	}
	if e := relErr([]float32{1, 2.5}, []float32{1, 2}); e != 0.25 {
		t.Errorf("relErr = %v; want 0.25 (0.5 over the largest value 2)", e)
	}
	if e := relErr([]float32{1}, []float32{1, 2}); e < 1e300 {
		t.Errorf("relErr of different lengths = %v; want +Inf", e)
	}
}

// TestREADMEMemoryTable: the README shows the table `make bench-memory`
// last wrote (results/memory/memory.md), row for row; after a new run,
// copy its rows into the README's memory paragraph.
func TestREADMEMemoryTable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	table, err := os.ReadFile("../../results/memory/memory.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for _, line := range strings.Split(string(table), "\n") {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		rows++
		if !strings.Contains(string(readme), line+"\n") {
			t.Errorf("README lacks results/memory/memory.md's row %q: run make bench-memory and copy its table", line)
		}
	}
	if rows < 3 {
		t.Errorf("results/memory/memory.md has %d table rows", rows)
	}
}
