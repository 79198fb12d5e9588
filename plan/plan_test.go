package plan

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mtlsplit/mtlsplit/internal/atomicfile"
)

func TestLoadGoodAndBad(t *testing.T) {
	tests := []struct {
		file string
		want string // "" for a good file
	}{
		{"effnet_rpi4_wifi.good.yaml", ""},
		{"version.bad.yaml", "version 2, this build reads version 1"},
		{"unknown_field.bad.yaml", "field objectve not found"},
		{"head_side.bad.yaml", `choice.heads.task2 is "cloud"`},
		{"two_docs.bad.yaml", "second YAML document"},
		{"range.bad.yaml", "valid_uplink_mbps [30, 2] is not a range"},
		{"no_hash.bad.yaml", "model needs a name, a hash"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			p, err := Load(filepath.Join("testdata", tc.file))
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if p.Choice.Cut != "features.3" || p.Choice.Encoding != "int8" || p.Predicted.Bytes != 31368 || len(p.SwitchTable) < 2 {
					t.Errorf("plan %+v", p.Choice)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.file) {
				t.Errorf("error %v, want %q naming the file", err, tc.want)
			}
		})
	}
}

func TestWriteRoundTripAndNoOverwrite(t *testing.T) {
	p, err := Load("testdata/effnet_rpi4_wifi.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "plan.yaml")
	if err := p.Write(path, false); err != nil {
		t.Fatal(err)
	}
	q, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if q.Predicted.TotalMS != p.Predicted.TotalMS || q.Model.Hash != p.Model.Hash || len(q.SwitchTable) != len(p.SwitchTable) {
		t.Errorf("round trip changed the plan")
	}
	before, _ := os.ReadFile(path)
	q.Objective = "energy"
	if err := q.Write(path, false); !errors.Is(err, atomicfile.ErrExists) {
		t.Errorf("overwrite without asking: %v", err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Errorf("file changed")
	}
	if err := q.Write(path, true); err != nil {
		t.Fatal(err)
	}
	if r, _ := Load(path); r.Objective != "energy" {
		t.Errorf("overwrite did not happen")
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".plan.yaml.*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

func TestWriteRefusesInvalid(t *testing.T) {
	p := &Plan{Version: 1}
	if err := p.Write(filepath.Join(t.TempDir(), "x.yaml"), false); err == nil {
		t.Error("an empty plan was written")
	}
}

// FuzzParse: no input makes Parse panic; whatever it accepts validates.
func FuzzParse(f *testing.F) {
	good, _ := os.ReadFile("testdata/effnet_rpi4_wifi.good.yaml")
	f.Add(good)
	f.Add([]byte("version: 1\n"))
	f.Add([]byte("{}"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := Parse(raw)
		if err == nil && p.Validate() != nil {
			t.Errorf("accepted an invalid plan")
		}
	})
}
