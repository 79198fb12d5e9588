package dataset

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// LabelsFile is the name of the labels file inside a data set directory.
const LabelsFile = "labels.csv"

// Item is one row of labels.csv.
type Item struct {
	File   string // path relative to the set directory, '/'-separated
	Line   int    // line in labels.csv (0 in a set without one)
	Labels []int  // one class index per task (none without labels.csv)
}

// Problem is one bad row (or a bad file it names).
type Problem struct {
	Line   int    // line in labels.csv
	File   string // the row's file, empty when the row has none
	Reason string
}

// String is "labels.csv:LINE: FILE: REASON", or "FILE: REASON" in a set
// without labels.csv.
func (p Problem) String() string {
	if p.Line == 0 {
		return fmt.Sprintf("%s: %s", p.File, p.Reason)
	}
	if p.File == "" {
		return fmt.Sprintf("%s:%d: %s", LabelsFile, p.Line, p.Reason)
	}
	return fmt.Sprintf("%s:%d: %s: %s", LabelsFile, p.Line, p.File, p.Reason)
}

// BadError is returned by Open with OnBad Refuse when rows are bad: every
// problem, in line order. Its message is the first one and a count; the
// hint names the CLI flag because that is where a person reads it.
type BadError struct {
	Dir      string
	Problems []Problem
}

func (e *BadError) Error() string {
	msg := filepath.Join(e.Dir, e.Problems[0].String())
	if n := len(e.Problems) - 1; n > 0 {
		msg += fmt.Sprintf(" (and %d more bad rows; --on-bad skip leaves bad rows out)", n)
	}
	return msg
}

// validName reports whether a task name can travel through plans and flags
// such as --min-accuracy task=0.9 unchanged.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// checkTasks reports the first bad task name: empty, with characters
// outside [A-Za-z0-9_.-], "file", or repeated.
func checkTasks(tasks []string) error {
	if len(tasks) == 0 {
		return errors.New("no task columns: the header must be file,<task>,... with one column per task")
	}
	seen := map[string]bool{}
	for _, t := range tasks {
		switch {
		case !validName(t):
			return fmt.Errorf("task name %q: use letters, digits, '_', '-' or '.'", t)
		case t == "file":
			return errors.New(`task name "file" is reserved for the first column`)
		case seen[t]:
			return fmt.Errorf("task %q appears twice", t)
		}
		seen[t] = true
	}
	return nil
}

// cleanFile checks a file column: relative, '/'-separated, inside the set.
func cleanFile(name string) (string, error) {
	switch {
	case name == "":
		return "", errors.New("empty file name")
	case strings.Contains(name, `\`):
		return "", errors.New(`file paths use '/' as separator, not '\'`)
	case !filepath.IsLocal(filepath.FromSlash(name)):
		return "", errors.New("file path must stay inside the data set directory (relative, no leading '/' or '..')")
	}
	return path.Clean(name), nil
}

// readLabels parses labels.csv. A fault in the file as a whole (no header,
// a bad header, broken CSV quoting) is returned as the error; a bad row is
// listed as a problem and left out of items. classes, when not nil, bounds
// each task's labels.
func readLabels(r io.Reader, classes []int) (tasks []string, items []Item, problems []Problem, err error) {
	br := bufio.NewReader(r)
	if b, err := br.Peek(3); err == nil && string(b) == "\ufeff" {
		br.Discard(3) // a byte order mark, as spreadsheets write
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err == io.EOF {
		return nil, nil, nil, fmt.Errorf("%s: empty: want a header file,<task>,... and one row per item", LabelsFile)
	}
	if err != nil {
		return nil, nil, nil, csvError(err)
	}
	for i := range header {
		header[i] = strings.TrimSpace(header[i])
	}
	if header[0] != "file" {
		return nil, nil, nil, fmt.Errorf("%s:1: header %q must start with the column \"file\", then one column per task", LabelsFile, strings.Join(header, ","))
	}
	tasks = header[1:]
	if err := checkTasks(tasks); err != nil {
		return nil, nil, nil, fmt.Errorf("%s:1: %w", LabelsFile, err)
	}
	if classes != nil && len(classes) != len(tasks) {
		return nil, nil, nil, fmt.Errorf("%s:1: %d class counts declared for %d tasks (%s)", LabelsFile, len(classes), len(tasks), strings.Join(tasks, ","))
	}
	firstLine := map[string]int{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, nil, csvError(err)
		}
		line, _ := cr.FieldPos(0)
		file := strings.TrimSpace(rec[0])
		bad := func(format string, a ...any) {
			problems = append(problems, Problem{Line: line, File: file, Reason: fmt.Sprintf(format, a...)})
		}
		if len(rec) != len(header) {
			bad("%d columns, want %d (%s)", len(rec), len(header), strings.Join(header, ","))
			continue
		}
		clean, err := cleanFile(file)
		if err != nil {
			bad("%v", err)
			continue
		}
		if first, ok := firstLine[clean]; ok {
			bad("listed again (first on line %d)", first)
			continue
		}
		firstLine[clean] = line
		labels, err := parseLabels(rec[1:], tasks, classes)
		if err != nil {
			bad("%v", err)
			continue
		}
		items = append(items, Item{File: clean, Line: line, Labels: labels})
	}
	return tasks, items, problems, nil
}

func parseLabels(fields []string, tasks []string, classes []int) ([]int, error) {
	labels := make([]int, len(fields))
	for t, f := range fields {
		f = strings.TrimSpace(f)
		v, err := strconv.Atoi(f)
		switch {
		case err != nil:
			return nil, fmt.Errorf("label %q for task %q is not an integer class index", f, tasks[t])
		case v < 0:
			return nil, fmt.Errorf("label %d for task %q is negative (want a class index ≥ 0)", v, tasks[t])
		case classes != nil && v >= classes[t]:
			return nil, fmt.Errorf("label %d for task %q is out of range (%d classes: 0–%d)", v, tasks[t], classes[t], classes[t]-1)
		}
		labels[t] = v
	}
	return labels, nil
}

// csvError turns a CSV syntax error into labels.csv:LINE: form.
func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s:%d: %v", LabelsFile, pe.Line, pe.Err)
	}
	return fmt.Errorf("%s: %w", LabelsFile, err)
}
