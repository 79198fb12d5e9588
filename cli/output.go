package cli

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"gopkg.in/yaml.v3"

	"github.com/mtlsplit/mtlsplit/internal/atomicfile"
	"github.com/mtlsplit/mtlsplit/internal/suggest"
)

// checkFormat validates an -o value against the formats a command offers.
func checkFormat(got string, valid ...string) error {
	for _, v := range valid {
		if got == v {
			return nil
		}
	}
	return fmt.Errorf("unknown output format %q%s", got, suggest.Hint(got, valid))
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return internal(enc.Encode(v))
}

func writeYAML(w io.Writer, v any) error {
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return internal(err)
	}
	return internal(enc.Close())
}

// output is a file a command will write, named by the flag that asks for
// it (for messages).
type output struct{ flag, path string }

// checkOutputs refuses, before anything is written or computed, every
// output a command could not write whole: a directory, an existing file
// without --force, a missing directory to write into, or two outputs naming
// one file. Commands call it first with all their outputs, so a refusal
// never leaves some files written and others not.
func checkOutputs(force bool, outs ...output) error {
	seen := map[string]string{}
	for _, o := range outs {
		if o.path == "" {
			continue
		}
		abs, err := filepath.Abs(o.path)
		if err != nil {
			return fmt.Errorf("%s %s: %w", o.flag, o.path, err)
		}
		if prev, dup := seen[abs]; dup {
			return fmt.Errorf("%s and %s both name %s: give each output its own file", prev, o.flag, o.path)
		}
		seen[abs] = o.flag
		if st, err := os.Stat(o.path); err == nil {
			if st.IsDir() {
				return fmt.Errorf("%s %s is a directory: give the name of a file to write", o.flag, o.path)
			}
			if !force {
				return fmt.Errorf("%s %s: %w (pass --force to replace it)", o.flag, o.path, atomicfile.ErrExists)
			}
		}
		dir := filepath.Dir(o.path)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return fmt.Errorf("%s %s: directory %s does not exist", o.flag, o.path, dir)
		}
	}
	return nil
}

// saveYAML writes v as YAML to path atomically (never over a file unless
// force) and says so on stderr.
func saveYAML(io *IO, path string, v any, force bool) error {
	var buf bytes.Buffer
	if err := writeYAML(&buf, v); err != nil {
		return err
	}
	if err := atomicfile.Write(path, buf.Bytes(), force); err != nil {
		return err
	}
	fmt.Fprintf(io.Err, "wrote %s\n", path)
	return nil
}

func writeCSV(w io.Writer, header []string, rows [][]string) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(header); err != nil {
		return internal(err)
	}
	if err := cw.WriteAll(rows); err != nil {
		return internal(err)
	}
	return nil
}

// writeTable prints aligned columns for people.
func writeTable(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if header != nil {
		fmt.Fprintln(tw, strings.Join(header, "\t"))
	}
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return internal(tw.Flush())
}

func shapeString(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return strings.Join(parts, "×")
}

// human formats a count with a unit prefix (1.81G, 11.2M).
func human(n float64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.3gG", n/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.3gM", n/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.3gk", n/1e3)
	}
	return fmt.Sprintf("%.0f", n)
}
