package experiments

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/profile"
	"github.com/mtlsplit/mtlsplit/results"
)

// AccBytesPoint is one task's accuracy when one cut's tensor travels in one
// encoding, over the seeds of one backbone's MTL model.
type AccBytesPoint struct {
	Backbone, Cut, Task string
	Encoding            codec.Encoding
	// Bytes is the encoded tensor's size per image; ZstdBytes its mean
	// size after zstd over the scored scenes (0 for the raw input).
	Bytes         int64
	ZstdBytes     float64
	Accuracy, Std float64
	// Pareto marks the points no other point of the same task beats on
	// both bytes and accuracy; MTLSplit marks MTL-Split's choice (the
	// backbone's output in fp32).
	Pareto, MTLSplit bool
}

// AccuracyBytes gathers every cut × encoding × task of the MTL runs'
// accuracy tables (tabs[i] is runs[i]'s), adds the raw input (remote-only:
// the plain forward pass's accuracy) and marks each task's Pareto front.
func AccuracyBytes(runs []*Run, tabs []*profile.AccuracyTable) []AccBytesPoint {
	type key struct {
		backbone, cut, task string
		enc                 codec.Encoding
	}
	acc := map[key][]float64{}
	zstd := map[key][]float64{}
	var order []key
	for i, run := range runs {
		tab, g := tabs[i], run.Graph
		add := func(k key, a float64) {
			if _, ok := acc[k]; !ok {
				order = append(order, k)
			}
			acc[k] = append(acc[k], a)
		}
		for _, t := range tab.Tasks {
			add(key{run.Backbone, "input", t.Task, codec.Raw}, t.Accuracy)
		}
		for _, e := range tab.Entries {
			add(key{run.Backbone, e.Cut, e.Task, e.Encoding}, e.Accuracy)
		}
		for _, s := range tab.Sizes {
			for _, h := range g.Heads {
				k := key{run.Backbone, s.Cut, h.Task, s.Encoding.Base()}
				zstd[k] = append(zstd[k], s.MeanBytes)
			}
		}
	}
	elems := map[string]map[string]int64{} // backbone → cut → elements
	last := map[string]string{}
	for _, run := range runs {
		g := run.Graph
		m := map[string]int64{"input": g.Input.Elems()}
		for _, b := range g.Blocks {
			m[b.Name] = b.OutShape.Elems()
		}
		elems[run.Backbone] = m
		last[run.Backbone] = g.Blocks[len(g.Blocks)-1].Name
	}
	var pts []AccBytesPoint
	for _, k := range order {
		p := AccBytesPoint{Backbone: k.backbone, Cut: k.cut, Task: k.task, Encoding: k.enc, Bytes: k.enc.Bytes(elems[k.backbone][k.cut]),
			MTLSplit: k.cut == last[k.backbone] && k.enc == codec.FP32}
		p.Accuracy, p.Std = meanStd(acc[k])
		if z := zstd[k]; len(z) > 0 {
			p.ZstdBytes, _ = meanStd(z)
		}
		pts = append(pts, p)
	}
	for i := range pts {
		p := &pts[i]
		p.Pareto = true
		for _, q := range pts {
			if q.Backbone == p.Backbone && q.Task == p.Task && q.Bytes <= p.Bytes && q.Accuracy >= p.Accuracy &&
				(q.Bytes < p.Bytes || q.Accuracy > p.Accuracy) {
				p.Pareto = false
				break
			}
		}
	}
	return pts
}

// WriteAccuracyBytes writes accuracy_bytes.csv, one figure per backbone and
// the README section into root/accuracy-bytes/.
func WriteAccuracyBytes(root string, pts []AccBytesPoint, r Recipe, host string, elapsedS float64, overwrite bool) ([]string, error) {
	var rows [][]string
	for _, p := range pts {
		rows = append(rows, []string{p.Backbone, p.Cut, string(p.Encoding), p.Task, strconv.FormatInt(p.Bytes, 10), g6(p.ZstdBytes),
			g6(p.Accuracy), g6(p.Std), strconv.FormatBool(p.Pareto), strconv.FormatBool(p.MTLSplit)})
	}
	o := output{
		csv: map[string][]byte{"accuracy_bytes.csv": table([]string{"backbone", "cut", "encoding", "task", "bytes", "zstd_mean_bytes",
			"accuracy_mean", "accuracy_std", "pareto", "mtl_split"}, rows)},
		figures: map[string]saver{},
	}
	for _, b := range r.Backbones {
		fig := results.Figure{Title: b + ": per-task accuracy vs bytes sent (every cut × encoding; dotted: MTL-Split's cut)",
			XLabel: "bytes sent per image", YLabel: "top-1 accuracy on the OOD test scenes", LogX: true}
		for _, task := range r.Tasks {
			// The front as a staircase: the best accuracy sent in at most
			// x bytes, up to the largest point.
			front := results.Series{Name: task + ": Pareto front (best accuracy within x bytes)"}
			all := results.Series{Name: task + ": every cut × encoding", Points: true}
			sp := sortedPoints(pts, b, task)
			for _, p := range sp {
				all.X, all.Y = append(all.X, float64(p.Bytes)), append(all.Y, p.Accuracy)
				if p.Pareto {
					if n := len(front.Y); n > 0 {
						front.X, front.Y = append(front.X, float64(p.Bytes)), append(front.Y, front.Y[n-1])
					}
					front.X, front.Y = append(front.X, float64(p.Bytes)), append(front.Y, p.Accuracy)
				}
				if p.MTLSplit && !slices.Contains(fig.Markers, float64(p.Bytes)) {
					fig.Markers = append(fig.Markers, float64(p.Bytes))
				}
			}
			if len(all.X) > 0 {
				front.X, front.Y = append(front.X, float64(sp[len(sp)-1].Bytes)), append(front.Y, front.Y[len(front.Y)-1])
				fig.Series = append(fig.Series, front, all)
			}
		}
		if len(fig.Series) > 0 {
			o.figures["accuracy_bytes_"+b] = fig
		}
	}
	o.section = accBytesSection(pts, r, host, elapsedS)
	return o.write(root, "accuracy-bytes", overwrite)
}

// sortedPoints are one backbone's points of one task, fewest bytes first.
func sortedPoints(pts []AccBytesPoint, backbone, task string) []AccBytesPoint {
	var out []AccBytesPoint
	for _, p := range pts {
		if p.Backbone == backbone && p.Task == task {
			out = append(out, p)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Bytes < out[j].Bytes })
	return out
}

func accBytesSection(pts []AccBytesPoint, r Recipe, host string, elapsedS float64) string {
	var b strings.Builder
	b.WriteString("## Accuracy against bytes sent (`mtlsplit experiment accuracy-bytes`)\n\n")
	fmt.Fprintf(&b, "The MTL models of stl-vs-mtl, scored by the accuracy profiler (`profile --accuracy`'s measurement) on %d OOD test\n"+
		"scenes at every block cut × fp32/fp16/int8/int4, mean over %d seeds; bytes are the encoded tensor per image (zstd means in\n"+
		"the CSV). Ran on %s in %.1f min. Files: `accuracy-bytes/accuracy_bytes.csv`, `accuracy_bytes_<backbone>.png|svg`.\n\n",
		r.accuracyN(), len(r.Seeds), host, elapsedS/60)
	var md [][]string
	for _, bk := range r.Backbones {
		for _, task := range r.Tasks {
			sp := sortedPoints(pts, bk, task)
			if len(sp) == 0 {
				continue
			}
			var raw, split AccBytesPoint
			front := 0
			for _, p := range sp {
				switch {
				case p.Cut == "input":
					raw = p
				case p.MTLSplit:
					split = p
				}
				if p.Pareto {
					front++
				}
			}
			// The fewest bytes that keep the task within 1 point of the
			// plain forward pass.
			cheap := split
			for _, p := range sp {
				if p.Cut != "input" && p.Accuracy >= raw.Accuracy-0.01 {
					cheap = p
					break
				}
			}
			onFront := "no"
			if split.Pareto {
				onFront = "yes"
			}
			md = append(md, []string{bk, task, fmt.Sprintf("%.1f", 100*raw.Accuracy), fmt.Sprintf("%d B", raw.Bytes),
				fmt.Sprintf("%d B, %.1f", split.Bytes, 100*split.Accuracy), onFront,
				fmt.Sprintf("%s %s: %d B, %.1f", cheap.Cut, cheap.Encoding, cheap.Bytes, 100*cheap.Accuracy), strconv.Itoa(front)})
		}
	}
	b.WriteString(mdTable([]string{"backbone", "task", "plain pass %", "raw input", "MTL-Split's cut (fp32)", "on the front",
		"fewest bytes within 1 point", "front size"}, md))
	b.WriteString("\n**What it says about the claim** (one compact tensor after the backbone): ")
	var notes []string
	for _, bk := range r.Backbones {
		var raw, split int64
		for _, p := range pts {
			if p.Backbone == bk && p.Cut == "input" {
				raw = p.Bytes
			}
			if p.Backbone == bk && p.MTLSplit {
				split = p.Bytes
			}
		}
		if raw > 0 && split > 0 {
			size := "smaller than"
			if split >= raw {
				size = "no smaller than"
			}
			notes = append(notes, fmt.Sprintf("%s's backbone output is %d B in fp32, %.2f× the %d B raw %d px image (%s it)", bk, split,
				float64(split)/float64(raw), raw, r.Size, size))
		}
	}
	b.WriteString(strings.Join(notes, "; ") + ". " +
		"The table says whether MTL-Split's fp32 cut is on each task's accuracy-bytes front, and which cut × encoding keeps the " +
		"task within 1 point of the plain forward pass for the fewest bytes.\n")
	return b.String()
}
