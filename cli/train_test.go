package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/train"
)

func TestTrainWritesWeights(t *testing.T) {
	out := filepath.Join(t.TempDir(), "w.safetensors")
	stdout, stderr, code := run(t, "train", "resnet18", "--tasks", "scale,shape", "--n", "32", "--test-n", "16",
		"--batch", "16", "--size", "32", "--epochs", "2", "--out", out, "--quiet")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	t.Log(stdout)
	for _, want := range []string{"epoch 1/2  lr 1e-04  loss ", "epoch 2/2  lr 1e-05  loss ", "accuracy scale ", " shape ", "test scale ", "wrote " + out} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	g, err := model.New("resnet18", 32, []int{8, 4})
	if err != nil {
		t.Fatal(err)
	}
	_, meta, err := train.DecodeSafetensors(b, g)
	if err != nil {
		t.Fatal(err)
	}
	if meta["tasks"] != "scale,shape" || meta["classes"] != "8,4" || meta["graph_hash"] != g.Hash() {
		t.Errorf("metadata %v", meta)
	}
	if _, stderr, code := run(t, "train", "resnet18", "--n", "32", "--batch", "16", "--size", "32", "--epochs", "1", "--out", out, "--quiet"); code != 2 || !strings.Contains(stderr, "exists") {
		t.Errorf("overwriting without --force: exit %d, %s", code, stderr)
	}
}

func TestTrainBadInput(t *testing.T) {
	out := filepath.Join(t.TempDir(), "w.safetensors")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no out", []string{"resnet18", "--n", "64"}, "train needs --out FILE.safetensors"},
		{"out extension", []string{"resnet18", "--n", "64", "--out", "w.pt"}, "--out w.pt: the weights file is safetensors"},
		{"unknown task", []string{"resnet18", "--tasks", "scale,color", "--n", "64", "--out", out}, `--tasks: unknown task "color"`},
		{"n below batch", []string{"resnet18", "--n", "8", "--out", out}, "--n 8 out of range (valid: --batch 32..360000)"},
		{"epochs", []string{"resnet18", "--n", "64", "--epochs", "0", "--out", out}, "--epochs 0 must be at least 1"},
		{"unknown model", []string{"resnet19", "--n", "32", "--size", "16", "--out", out, "-q"}, `unknown model "resnet19"`},
		{"lr", []string{"resnet18", "--n", "64", "--lr", "0", "--out", out}, "--lr 0 must be positive"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, stderr, code := run(t, append([]string{"train"}, c.args...)...)
			if code != 2 || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("exit %d, stderr %q; want exit 2 and one line with %q", code, stderr, c.want)
			}
		})
	}
}
