package train

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mtlsplit/mtlsplit/dataset"
)

// Data is a labelled training set read batch by batch in any order: the
// rendered Scenes or a Labelled folder.
type Data interface {
	// Len is the number of items.
	Len() int
	// Classes is the number of classes of each task.
	Classes() []int
	// Batch fills x (len(order) items, NCHW) and labels (per task, resliced
	// to len(order)) with the items order lists.
	Batch(order []int, x []float32, labels [][]int) error
}

// Labelled is a data set folder (dataset.Open: images + labels.csv) read
// as training data for some of its label columns, in the order given.
type Labelled struct {
	set     *dataset.Set
	cols    []int // labels.csv column (task index of the set) of each task
	classes []int
}

// NewLabelled trains on set's label columns named by tasks; each task's
// class count is the set's (max label + 1, or the declared count).
func NewLabelled(set *dataset.Set, tasks []string) (*Labelled, error) {
	have := set.Tasks()
	l := &Labelled{set: set}
	for _, name := range tasks {
		name = strings.TrimSpace(name)
		c := slices.Index(have, name)
		if c < 0 {
			return nil, fmt.Errorf("unknown task column %q (%s has: %s)", name, dataset.LabelsFile, strings.Join(have, ", "))
		}
		if slices.Contains(l.cols, c) {
			return nil, fmt.Errorf("task %q given twice", name)
		}
		l.cols = append(l.cols, c)
		l.classes = append(l.classes, set.Classes()[c])
	}
	if len(l.cols) == 0 {
		return nil, fmt.Errorf("no tasks (%s has: %s)", dataset.LabelsFile, strings.Join(have, ", "))
	}
	return l, nil
}

// Len implements Data.
func (l *Labelled) Len() int { return l.set.Len() }

// Classes implements Data.
func (l *Labelled) Classes() []int { return slices.Clone(l.classes) }

// Batch implements Data: each item is decoded into its own slot of x, so
// the result does not depend on how the decoding is split.
func (l *Labelled) Batch(order []int, x []float32, labels [][]int) error {
	e := l.set.Elems()
	if len(x) < len(order)*e {
		return fmt.Errorf("train: batch of %d needs %d values, x has %d", len(order), len(order)*e, len(x))
	}
	errs := make([]error, len(order))
	parallel(len(order), func(lo, hi int) {
		for k := lo; k < hi; k++ {
			errs[k] = l.set.Batch(order[k], 1, x[k*e:(k+1)*e])
		}
	})
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	for t, c := range l.cols {
		labels[t] = labels[t][:0]
		for _, i := range order {
			labels[t] = append(labels[t], l.set.Item(i).Labels[c])
		}
	}
	return nil
}
