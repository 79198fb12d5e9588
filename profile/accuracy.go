package profile

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/mtlsplit/mtlsplit/internal/strictyaml"
)

// AccuracyTable gives each task's accuracy when the cut tensor at a cut is
// sent in an encoding, as measured on a validation set.
type AccuracyTable struct {
	Version int             `yaml:"version"`
	Model   string          `yaml:"model,omitempty"`
	Entries []AccuracyEntry `yaml:"entries"`
	index   map[accKey]float64
	native  map[string]float64 // task → its first fp32 entry
}

// AccuracyEntry is one measured accuracy.
type AccuracyEntry struct {
	Task     string   `yaml:"task"`
	Cut      string   `yaml:"cut"`
	Encoding Encoding `yaml:"encoding"`
	Accuracy float64  `yaml:"accuracy"`
	Line     int      `yaml:"-"`
}

type accKey struct {
	task, cut string
	enc       Encoding
}

// LoadAccuracy reads an accuracy table strictly (unknown keys, a second
// document, or a bad value are errors that name the file and line).
func LoadAccuracy(path string) (*AccuracyTable, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("accuracy table: %w", err)
	}
	t, err := ParseAccuracy(raw)
	if err != nil {
		return nil, fmt.Errorf("accuracy table %s: %w", path, err)
	}
	return t, nil
}

// ParseAccuracy decodes an accuracy table from YAML.
func ParseAccuracy(raw []byte) (*AccuracyTable, error) {
	var t AccuracyTable
	if err := strictyaml.Decode(raw, &t); err != nil {
		return nil, err
	}
	var node yaml.Node
	if err := yaml.Unmarshal(raw, &node); err != nil {
		return nil, err
	}
	// Record each entry's line for messages.
	if len(node.Content) > 0 {
		root := node.Content[0]
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value == "entries" {
				for j, e := range root.Content[i+1].Content {
					if j < len(t.Entries) {
						t.Entries[j].Line = e.Line
					}
				}
			}
		}
	}
	if err := t.validate(); err != nil {
		return nil, err
	}
	return &t, nil
}

func (t *AccuracyTable) validate() error {
	var problems []string
	if t.Version != 1 {
		problems = append(problems, fmt.Sprintf("version %d, want 1", t.Version))
	}
	t.index = map[accKey]float64{}
	t.native = map[string]float64{}
	for _, e := range t.Entries {
		where := fmt.Sprintf("line %d", e.Line)
		switch {
		case e.Task == "" || e.Cut == "":
			problems = append(problems, where+": task and cut are required")
		case e.Encoding.Bytes(1) == 0:
			problems = append(problems, fmt.Sprintf("%s: unknown encoding %q (valid: fp32, fp16, int8, int4, uint8)", where, e.Encoding))
		case !(e.Accuracy >= 0 && e.Accuracy <= 1): // NaN too
			problems = append(problems, fmt.Sprintf("%s: accuracy %g is not a fraction in [0, 1]", where, e.Accuracy))
		}
		k := accKey{e.Task, e.Cut, e.Encoding}
		if _, dup := t.index[k]; dup {
			problems = append(problems, fmt.Sprintf("%s: duplicate entry for task %s, cut %s, %s", where, e.Task, e.Cut, e.Encoding))
		}
		t.index[k] = e.Accuracy
		if _, ok := t.native[e.Task]; !ok && e.Encoding == FP32 {
			t.native[e.Task] = e.Accuracy
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// Accuracy looks up a task's accuracy at a cut and encoding. An input cut
// sends the image as is, so any entry for it at "uint8" applies.
func (t *AccuracyTable) Accuracy(task, cut string, e Encoding) (float64, bool) {
	if t == nil {
		return 0, false
	}
	a, ok := t.index[accKey{task, cut, e}]
	return a, ok
}

// Native is a task's accuracy with nothing lost in transit: any fp32 entry
// of the task (fp32 is lossless, so every cut gives the same).
func (t *AccuracyTable) Native(task string) (float64, bool) {
	if t == nil {
		return 0, false
	}
	if t.native != nil { // a parsed table: the optimizer asks once per candidate
		a, ok := t.native[task]
		return a, ok
	}
	for _, e := range t.Entries {
		if e.Task == task && e.Encoding == FP32 {
			return e.Accuracy, true
		}
	}
	return 0, false
}
