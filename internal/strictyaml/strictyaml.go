// Package strictyaml decodes the project's YAML (and JSON) files the one
// strict way — unknown keys and a second document are errors, with their
// line — and reports what is wrong with the values at file:line and field
// path (Report), so every format checks its numbers the same way.
package strictyaml

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/mtlsplit/mtlsplit/internal/suggest"
)

// Decode fills v from raw, refusing unknown fields and more than one
// document.
func Decode(raw []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("the file is empty")
		}
		return err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return fmt.Errorf("line %d: a second YAML document is not allowed", extra.Line)
	}
	return nil
}

var lineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): `)

// Message is one problem a decoder reported, at its line (0: unknown).
type Message struct {
	Line int
	Msg  string
}

// Messages splits a decoding error into its problems, each with its line.
func Messages(err error) []Message {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	out := make([]Message, len(msgs))
	for i, m := range msgs {
		out[i].Msg = strings.TrimPrefix(m, "yaml: ")
		if s := lineRE.FindStringSubmatch(m); s != nil {
			out[i].Line, _ = strconv.Atoi(s[1])
			out[i].Msg = m[len(s[0]):]
		}
	}
	return out
}

// DecodeFile is Decode with every "line N:" of its errors turned into
// "file:N:", so a message points into the file.
func DecodeFile(file string, raw []byte, v any) error {
	err := Decode(raw, v)
	if err == nil || file == "" {
		return err
	}
	keys := fieldKeys(reflect.TypeOf(v))
	var msgs []string
	for _, m := range Messages(err) {
		loc := file
		if m.Line > 0 {
			loc += ":" + strconv.Itoa(m.Line)
		}
		if s := unknownRE.FindStringSubmatch(m.Msg); s != nil {
			m.Msg = fmt.Sprintf("unknown field %q%s", s[1], suggest.Hint(s[1], keys[s[2]]))
		}
		msgs = append(msgs, loc+": "+m.Msg)
	}
	return errors.New(strings.Join(msgs, "; "))
}

var unknownRE = regexp.MustCompile(`^field (\S+) not found in type (.+)$`)

// fieldKeys maps every struct type reachable from t, by the name yaml.v3
// gives it in messages ("plan.Plan"), to its YAML keys: what an unknown
// field could have meant.
func fieldKeys(t reflect.Type) map[string][]string {
	out := map[string][]string{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || t == reflect.TypeFor[yaml.Node]() {
			return
		}
		if _, done := out[t.String()]; done {
			return
		}
		out[t.String()] = []string{}
		for i := range t.NumField() {
			f := t.Field(i)
			if tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); tag != "" && tag != "-" {
				out[t.String()] = append(out[t.String()], tag)
			}
			walk(f.Type)
		}
	}
	walk(t)
	return out
}

// Lines maps the field path of every key and list item of a document
// ("cut_tensors[0].bytes", "backbones.resnet18.blocks[3]") to its line. It
// returns an empty map for a document it cannot parse.
func Lines(raw []byte) map[string]int {
	lines := map[string]int{}
	var root yaml.Node
	if yaml.Unmarshal(raw, &root) != nil || len(root.Content) == 0 {
		return lines
	}
	var walk func(n *yaml.Node, path string, depth int)
	walk = func(n *yaml.Node, path string, depth int) {
		if depth > 64 { // a hostile file nests deeper than any schema here
			return
		}
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				p := n.Content[i].Value
				if path != "" {
					p = path + "." + p
				}
				lines[p] = n.Content[i].Line
				walk(n.Content[i+1], p, depth+1)
			}
		case yaml.SequenceNode:
			for i, it := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				lines[p] = it.Line
				walk(it, p, depth+1)
			}
		}
	}
	walk(root.Content[0], "", 0)
	return lines
}

// Range is what a number read from a file must be.
type Range int

// The ranges numbers are checked against. Every one refuses NaN and ±Inf.
const (
	NonNegative      Range = iota // times, energies, byte counts: ≥ 0
	Positive                      // sizes, bandwidths, peaks: > 0
	Fraction                      // accuracies: [0, 1]
	PositiveFraction              // efficiencies: (0, 1]
)

// Contains reports whether v is in r.
func (r Range) Contains(v float64) bool {
	switch r {
	case NonNegative:
		return v >= 0 && v <= maxFinite
	case Positive:
		return v > 0 && v <= maxFinite
	case Fraction:
		return v >= 0 && v <= 1
	case PositiveFraction:
		return v > 0 && v <= 1
	}
	return false
}

const maxFinite = 1.7976931348623157e308

// Want says what r wants, for messages.
func (r Range) Want() string {
	switch r {
	case NonNegative:
		return "a finite number ≥ 0"
	case Positive:
		return "a finite number > 0"
	case Fraction:
		return "a fraction in [0, 1]"
	case PositiveFraction:
		return "a fraction in (0, 1]"
	}
	return "nothing"
}

// Report collects what is wrong with a decoded file, each problem at its
// field path and, where the file's lines are known, its file:line.
type Report struct {
	File  string
	Lines map[string]int
	msgs  []string
}

// NewReport starts a report on a file read from raw (nil raw: a value built
// in code, reported by field path only).
func NewReport(file string, raw []byte) *Report {
	r := &Report{File: file}
	if raw != nil {
		r.Lines = Lines(raw)
	}
	return r
}

// Line is the line of path, else of the nearest enclosing path that has
// one (a value left out has no line of its own); 0 when none has.
func (r *Report) Line(path string) int {
	for p := path; p != ""; {
		if l, ok := r.Lines[p]; ok {
			return l
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return 0
}

// Addf records that path is wrong; the message starts with the path.
func (r *Report) Addf(path, format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	if path != "" {
		msg = path + " " + msg
	}
	loc := r.File
	if l := r.Line(path); l > 0 {
		if loc == "" {
			loc = fmt.Sprintf("line %d", l)
		} else {
			loc = fmt.Sprintf("%s:%d", loc, l)
		}
	}
	if loc != "" {
		msg = loc + ": " + msg
	}
	r.msgs = append(r.msgs, msg)
}

// Number checks that the number at path is in rng.
func (r *Report) Number(path string, v float64, rng Range) {
	if !rng.Contains(v) {
		r.Addf(path, "is %g (want %s)", v, rng.Want())
	}
}

// OneOf checks that the string at path is one of valid.
func (r *Report) OneOf(path, v string, valid ...string) {
	for _, ok := range valid {
		if v == ok {
			return
		}
	}
	r.Addf(path, "%q is unknown%s", v, suggest.Hint(v, valid))
}

// Err is nil when nothing was reported, else every problem on one line.
func (r *Report) Err() error {
	if len(r.msgs) == 0 {
		return nil
	}
	return errors.New(strings.Join(r.msgs, "; "))
}
