package model

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// refFile is the torchvision ground-truth format of ../shared/reference.
type refFile struct {
	Meta struct {
		Size  int   `json:"size"`
		Heads []int `json:"heads"`
	} `json:"meta"`
	Backbones map[string]struct {
		Totals struct {
			Params int64 `json:"params"`
			MACs   int64 `json:"macs"`
		} `json:"totals"`
		Blocks []struct {
			Name     string `json:"name"`
			Type     string `json:"type"`
			OutShape []int  `json:"out_shape"`
			Params   int64  `json:"params"`
			MACs     int64  `json:"macs"`
		} `json:"blocks"`
		Leaves []struct {
			Name           string `json:"name"`
			Type           string `json:"type"`
			OutShape       []int  `json:"out_shape"`
			Params         int64  `json:"params"`
			MACs           int64  `json:"macs"`
			ElementwiseOps int64  `json:"elementwise_ops"`
			Block          int    `json:"block"`
		} `json:"leaves"`
		Heads []struct {
			K          int   `json:"k"`
			InFeatures int   `json:"in_features"`
			Params     int64 `json:"params"`
			MACs       int64 `json:"macs"`
		} `json:"heads"`
	} `json:"backbones"`
}

// referenceFiles are every torchvision ground-truth file: the shared
// reference (vendored as testdata/torchvision_224.json, and read in place
// when ../shared is beside the repo), the measured tables embedded in
// hwprofiles (which carry shapes, params and MACs of all five backbones), and
// the fixtures made for other input sizes by testdata/gen_torchvision.py.
func referenceFiles(t *testing.T) []string {
	var files []string
	for _, pattern := range []string{
		"testdata/torchvision_*.json",
		"../hwprofiles/measured/h100_*.json",
		"../hwprofiles/measured/epyc2c_*.json",
		"../../shared/reference/torchvision/*.json",
		"../../shared/reference/measured/*.json",
	} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 3 {
		t.Fatalf("torchvision ground truth missing: found %v", files)
	}
	return files
}

func TestMatchesTorchvision(t *testing.T) {
	for _, file := range referenceFiles(t) {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var ref refFile
		if err := json.Unmarshal(raw, &ref); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for name, want := range ref.Backbones {
			t.Run(filepath.Base(file)+"/"+name, func(t *testing.T) {
				if len(want.Leaves) == 0 || len(want.Blocks) == 0 || len(want.Blocks[0].OutShape) != 4 {
					t.Fatalf("%s is not a torchvision ground-truth file (no leaves or shapes)", file)
				}
				g, err := New(name, ref.Meta.Size, ref.Meta.Heads)
				if err != nil {
					t.Fatal(err)
				}
				if len(g.Blocks) != len(want.Blocks) {
					t.Fatalf("%d blocks, want %d", len(g.Blocks), len(want.Blocks))
				}
				for i, wb := range want.Blocks {
					gb := g.Blocks[i]
					if gb.Name != wb.Name || gb.Type != wb.Type || gb.OutShape.String() != Shape(wb.OutShape[1:]).String() || gb.Params != wb.Params || gb.MACs != wb.MACs {
						t.Errorf("block %d: got %s %s %v params %d macs %d, want %s %s %v params %d macs %d",
							i, gb.Name, gb.Type, gb.OutShape, gb.Params, gb.MACs, wb.Name, wb.Type, wb.OutShape[1:], wb.Params, wb.MACs)
					}
				}
				leaves := Leaves(g)
				if len(leaves) != len(want.Leaves) {
					t.Fatalf("%d leaves, want %d", len(leaves), len(want.Leaves))
				}
				for i, wl := range want.Leaves {
					n := leaves[i]
					if n.Name != wl.Name || string(n.Op) != wl.Type || n.OutShape.String() != Shape(wl.OutShape[1:]).String() ||
						n.Params != wl.Params || n.MACs != wl.MACs || n.ElementwiseOps != wl.ElementwiseOps || n.Block != wl.Block {
						t.Errorf("leaf %d: got %s %s %v p%d m%d e%d b%d, want %s %s %v p%d m%d e%d b%d", i,
							n.Name, n.Op, n.OutShape, n.Params, n.MACs, n.ElementwiseOps, n.Block,
							wl.Name, wl.Type, wl.OutShape[1:], wl.Params, wl.MACs, wl.ElementwiseOps, wl.Block)
					}
				}
				if g.BackboneParams() != want.Totals.Params || g.BackboneMACs() != want.Totals.MACs {
					t.Errorf("totals: params %d macs %d, want %d %d", g.BackboneParams(), g.BackboneMACs(), want.Totals.Params, want.Totals.MACs)
				}
				for i, wh := range want.Heads {
					h := g.Heads[i]
					if h.Classes != wh.K || h.Params != wh.Params || h.MACs != wh.MACs || g.Nodes[h.Nodes[0]].OutShape[0] != wh.InFeatures {
						t.Errorf("head %d: k %d params %d macs %d, want k %d params %d macs %d in %d", i, h.Classes, h.Params, h.MACs, wh.K, wh.Params, wh.MACs, wh.InFeatures)
					}
				}
			})
		}
	}
}
