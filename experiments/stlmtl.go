package experiments

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/mtlsplit/mtlsplit/results"
)

// Runs trains (or reads from the cache) every model of the recipe: per
// seed, the MTL model and one STL model per task, for every backbone. Seeds
// come first so that the runs of a seed share its rendered scenes.
func (l *Lab) Runs() ([]*Run, error) {
	if err := l.Recipe.Validate(); err != nil {
		return nil, err
	}
	var out []*Run
	for _, seed := range l.Recipe.Seeds {
		for _, tasks := range l.Recipe.kinds() {
			for _, b := range l.Recipe.Backbones {
				l.Progress.Begin(fmt.Sprintf("train %s %s seed %d", b, joinTasks(tasks), seed))
				r, err := l.Run(b, tasks, seed)
				if err != nil {
					return nil, fmt.Errorf("%s %s seed %d: %w", b, joinTasks(tasks), seed, err)
				}
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// MTLRuns trains (or reads) only the MTL models, backbone by backbone.
func (l *Lab) MTLRuns() ([]*Run, error) {
	if err := l.Recipe.Validate(); err != nil {
		return nil, err
	}
	var out []*Run
	for _, seed := range l.Recipe.Seeds {
		for _, b := range l.Recipe.Backbones {
			l.Progress.Begin(fmt.Sprintf("train %s %s seed %d", b, joinTasks(l.Recipe.Tasks), seed))
			r, err := l.Run(b, l.Recipe.Tasks, seed)
			if err != nil {
				return nil, fmt.Errorf("%s seed %d: %w", b, seed, err)
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// TrainWork is the expected work of Runs (MTL only: MTLRuns).
func (l *Lab) TrainWork(mtlOnly bool) float64 {
	var w float64
	kinds := len(l.Recipe.kinds())
	if mtlOnly {
		kinds = 1
	}
	for _, b := range l.Recipe.Backbones {
		w += float64(len(l.Recipe.Seeds)*kinds) * (l.trainWork(b) + l.evalWork(b))
	}
	return w
}

// STLRow is one backbone × kind × task of the STL-vs-MTL table, over seeds.
type STLRow struct {
	Backbone, Kind, Task string
	Seeds                int
	OODMean, OODStd      float64
	InMean, InStd        float64
	// Params is the network that scores this task (an STL network has one
	// head, the MTL network both).
	Params int64
	TrainS float64 // mean over seeds
}

// STLvsMTL summarises the runs per backbone, kind and task.
func STLvsMTL(runs []*Run, r Recipe) []STLRow {
	var rows []STLRow
	for _, b := range r.Backbones {
		for _, kind := range []string{"MTL", "STL"} {
			for _, task := range r.Tasks {
				row := STLRow{Backbone: b, Kind: kind, Task: task}
				var ood, in, ts []float64
				for _, run := range runs {
					t := slices.Index(run.Tasks, task)
					if run.Backbone != b || run.Kind() != kind || t < 0 {
						continue
					}
					ood, in, ts = append(ood, run.OOD[t]), append(in, run.InDist[t]), append(ts, run.TrainS)
					row.Params = run.Params
				}
				if len(ood) == 0 {
					continue
				}
				row.Seeds = len(ood)
				row.OODMean, row.OODStd = meanStd(ood)
				row.InMean, row.InStd = meanStd(in)
				row.TrainS, _ = meanStd(ts)
				rows = append(rows, row)
			}
		}
	}
	return rows
}

// meanStd is the mean and the sample standard deviation (0 for one value).
func meanStd(v []float64) (float64, float64) {
	var m float64
	for _, x := range v {
		m += x
	}
	m /= float64(len(v))
	if len(v) < 2 {
		return m, 0
	}
	var s float64
	for _, x := range v {
		s += (x - m) * (x - m)
	}
	return m, math.Sqrt(s / float64(len(v)-1))
}

// STLVerdict compares MTL with STL per backbone and task on the OOD split:
// "at least as accurate" within the seeds' noise means MTL's mean is no
// lower than STL's minus the larger of the two standard deviations.
type STLVerdict struct {
	Backbone, Task string
	DiffOOD        float64 // MTL − STL, accuracy points of 1
	DiffIn         float64
	Noise          float64
}

// AtLeastAsGood is the paper's claim for this pair.
func (v STLVerdict) AtLeastAsGood() bool { return v.DiffOOD >= -v.Noise }

// Verdicts pairs the MTL and STL rows.
func Verdicts(rows []STLRow) []STLVerdict {
	var out []STLVerdict
	for _, m := range rows {
		if m.Kind != "MTL" {
			continue
		}
		for _, s := range rows {
			if s.Kind == "STL" && s.Backbone == m.Backbone && s.Task == m.Task {
				out = append(out, STLVerdict{Backbone: m.Backbone, Task: m.Task, DiffOOD: m.OODMean - s.OODMean,
					DiffIn: m.InMean - s.InMean, Noise: max(m.OODStd, s.OODStd)})
			}
		}
	}
	return out
}

// WriteSTLvsMTL writes stl_vs_mtl.csv, runs.csv, the figure and the README
// section into root/stl-vs-mtl/.
func WriteSTLvsMTL(root string, runs []*Run, r Recipe, host string, elapsedS float64, overwrite bool) ([]string, error) {
	rows := STLvsMTL(runs, r)
	var csvRows [][]string
	for _, x := range rows {
		csvRows = append(csvRows, []string{x.Backbone, x.Kind, x.Task, strconv.Itoa(x.Seeds), g6(x.OODMean), g6(x.OODStd),
			g6(x.InMean), g6(x.InStd), strconv.FormatInt(x.Params, 10), g6(x.TrainS)})
	}
	var runRows [][]string
	for _, run := range runs {
		for t, task := range run.Tasks {
			runRows = append(runRows, []string{run.Backbone, run.Kind(), joinTasks(run.Tasks), strconv.FormatUint(run.Seed, 10), task,
				g6(run.OOD[t]), g6(run.InDist[t]), strconv.FormatInt(run.Params, 10), g6(run.TrainS)})
		}
	}
	chart := results.BarChart{Title: "per-task top-1 accuracy: MTL vs STL (mean ± std over seeds)", YLabel: "accuracy"}
	series := map[string]*results.BarSeries{}
	for _, name := range []string{"MTL, OOD test", "STL, OOD test", "MTL, in-distribution", "STL, in-distribution"} {
		series[name] = &results.BarSeries{Name: name}
	}
	for _, b := range r.Backbones {
		for _, task := range r.Tasks {
			chart.Categories = append(chart.Categories, b+" "+task)
			for _, kind := range []string{"MTL", "STL"} {
				row := STLRow{OODMean: math.NaN(), InMean: math.NaN()}
				for _, x := range rows {
					if x.Backbone == b && x.Task == task && x.Kind == kind {
						row = x
					}
				}
				o, i := series[kind+", OOD test"], series[kind+", in-distribution"]
				o.Values, o.Errors = append(o.Values, row.OODMean), append(o.Errors, row.OODStd)
				i.Values, i.Errors = append(i.Values, row.InMean), append(i.Errors, row.InStd)
			}
		}
	}
	for _, name := range []string{"MTL, OOD test", "STL, OOD test", "MTL, in-distribution", "STL, in-distribution"} {
		chart.Series = append(chart.Series, *series[name])
	}
	o := output{
		csv: map[string][]byte{
			"stl_vs_mtl.csv": table([]string{"backbone", "kind", "task", "seeds", "ood_mean", "ood_std", "in_dist_mean", "in_dist_std", "params", "train_s_mean"}, csvRows),
			"runs.csv":       table([]string{"backbone", "kind", "tasks", "seed", "task", "ood", "in_dist", "params", "train_s"}, runRows),
		},
		figures: map[string]saver{"stl_vs_mtl": chart},
		section: stlSection(rows, r, host, elapsedS),
	}
	return o.write(root, "stl-vs-mtl", overwrite)
}

func stlSection(rows []STLRow, r Recipe, host string, elapsedS float64) string {
	var b strings.Builder
	b.WriteString("## STL vs MTL (`mtlsplit experiment stl-vs-mtl`)\n\n")
	fmt.Fprintf(&b, "Recipe: %s.\nRan on %s in %.1f min (training and scoring; cached models are reused).\n\n", r, host, elapsedS/60)
	b.WriteString("Top-1 accuracy in % (mean ± std over seeds) on the OOD test split (floor and wall hue ≥ 5) and on an\n" +
		"in-distribution hold-out (train-split scenes no seed trained on); parameters of the network that scores the task;\n" +
		"training seconds per model (mean; wall time, so on a shared machine it carries the load of the moment). Files: `stl-vs-mtl/stl_vs_mtl.csv`, `runs.csv` (every seed), `stl_vs_mtl.png|svg`.\n\n")
	var md [][]string
	for _, x := range rows {
		md = append(md, []string{x.Backbone, x.Kind, x.Task, pm(x.OODMean, x.OODStd), pm(x.InMean, x.InStd),
			fmt.Sprintf("%.2fM", float64(x.Params)/1e6), fmt.Sprintf("%.0f", x.TrainS)})
	}
	b.WriteString(mdTable([]string{"backbone", "model", "task", "OOD test %", "in-dist %", "params", "train s"}, md))
	b.WriteString("\n**What it says about the claim** (MTL at least as accurate per task as STL; \"within noise\" = MTL's mean is no\n" +
		"lower than STL's minus the larger seed std):\n\n")
	good, all := 0, 0
	for _, v := range Verdicts(rows) {
		all++
		word := "at least as accurate (within noise)"
		if v.DiffOOD > v.Noise {
			word = "more accurate"
		}
		if !v.AtLeastAsGood() {
			word = "**less accurate — disagrees with the paper**"
		} else {
			good++
		}
		fmt.Fprintf(&b, "- %s %s: MTL − STL = %+.1f points OOD (noise %.1f), %+.1f in-distribution: MTL %s.\n",
			v.Backbone, v.Task, 100*v.DiffOOD, 100*v.Noise, 100*v.DiffIn, word)
	}
	fmt.Fprintf(&b, "\nMTL is at least as accurate as STL on the OOD split in %d of %d backbone × task pairs.\n", good, all)
	for _, bk := range r.Backbones {
		var mtlP, stlP int64
		var mtlS, stlS float64
		for _, x := range rows {
			if x.Backbone != bk {
				continue
			}
			if x.Kind == "MTL" {
				mtlP, mtlS = x.Params, x.TrainS
			} else {
				stlP += x.Params
				stlS += x.TrainS
			}
		}
		if mtlP > 0 && stlP > 0 {
			fmt.Fprintf(&b, "- %s: one MTL network has %.2fM parameters against %.2fM for the %d STL networks (%.0f%%), and trains in %.0f s against %.0f s.\n",
				bk, float64(mtlP)/1e6, float64(stlP)/1e6, len(r.Tasks), 100*float64(mtlP)/float64(stlP), mtlS, stlS)
		}
	}
	return b.String()
}
