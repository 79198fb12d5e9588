package experiments

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/mtlsplit/mtlsplit/dataset/shapes3d"
	"github.com/mtlsplit/mtlsplit/model"
)

// AccuracyWork is the expected work of scoring every MTL model at every
// cut × encoding.
func (l *Lab) AccuracyWork() float64 {
	var w float64
	for _, b := range l.Recipe.Backbones {
		g, err := model.New(b, l.Recipe.Size, nil)
		if err != nil {
			continue
		}
		w += float64(len(l.Recipe.Seeds)) * l.accuracyWork(b, len(g.Blocks))
	}
	return w
}

// Work is the expected work of every experiment of the recipe, in seconds
// on a quiet two-core machine.
func (r Recipe) Work() float64 {
	l := &Lab{Recipe: r}
	return l.TrainWork(false) + l.AccuracyWork()
}

// ReproduceSection is results/README.md's account of a make reproduce
// run: what ran, where, how long each stage took, and what the paper's
// protocol would take on the same machine at the same pace.
func ReproduceSection(r Recipe, host string, totalS float64, stageS map[string]float64, p *Progress) string {
	var b strings.Builder
	b.WriteString("## What was run (`make reproduce` = `mtlsplit experiment all`)\n\n")
	fmt.Fprintf(&b, "- Recipe (reduced: the paper's protocol does not fit in half an hour on two cores): %s.\n", r)
	noise := "carry the paper's salt-and-pepper noise (`shapes3d.PaperNoise`: about 71% of the values replaced)"
	if !r.Noise {
		noise = "are clean, unlike the paper's (its released code replaces about 71% of the input values with\n" +
			"  salt-and-pepper noise, `shapes3d.PaperNoise`; with it this recipe leaves mobilenet_v3_small at chance on the OOD split)"
	}
	fmt.Fprintf(&b, "- Scenes are rendered by `dataset/shapes3d` (3D-Shapes-like, %d px); inputs %s,\n"+
		"  and the learning rate is %g× the paper's 1e-4 for %d epochs over %.2f%% of the training split.\n",
		r.Size, noise, r.LR/1e-4, r.Epochs, 100*float64(r.TrainN)/float64(shapes3d.Train.Len()))
	fmt.Fprintf(&b, "- Where: %s, GOMAXPROCS %d.\n", host, runtime.GOMAXPROCS(0))
	fmt.Fprintf(&b, "- How long: %.1f min in all;", totalS/60)
	for _, st := range []string{"stl-vs-mtl", "accuracy-bytes", "bandwidth", "dads"} {
		if s, ok := stageS[st]; ok {
			fmt.Fprintf(&b, " %s %.1f min;", st, s/60)
		}
	}
	b.WriteString(" (models and accuracy tables found in the cache are not retrained; a stage that reused them is fast).\n")
	paper := PaperRecipe()
	if p != nil && p.Done > 0 {
		pace := totalS / p.Done
		fmt.Fprintf(&b, "- `make reproduce-full` (`--recipe paper`: %d backbones, %d epochs over all %d training scenes, %d seeds): at this\n"+
			"  run's pace (%.2f× the quiet-machine training rates of train/doc.go) it would take about %.0f days on this machine.\n",
			len(paper.Backbones), paper.Epochs, paper.TrainN, len(paper.Seeds), pace, paper.Work()*pace/86400)
	} else {
		fmt.Fprintf(&b, "- `make reproduce-full` (`--recipe paper`) is expected to take about %.0f days on a quiet two-core machine.\n", paper.Work()/86400)
	}
	return b.String()
}
