package cli

import (
	"testing"

	"github.com/mtlsplit/mtlsplit/plan"
)

// TestPlanRecordsPlacements: a plan written by the CLI lists its tiers and
// carries a placement for its choice and for every feasible switch row; the
// row of the valid range places exactly what the choice places, and every
// other row differs from it structurally.
func TestPlanRecordsPlacements(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		tiers int
	}{
		{"block cut", []string{"plan", "efficientnet_b0", "--device", "rpi4", "--server", "h100", "--network", "wifi", "--encodings", "fp32,fp16,int8", "-o", "yaml"}, 2},
		{"three tiers", []string{"plan", "resnet18", "--device", "jetson-nano", "--server", "epyc-16c,h100", "--network", "wifi6,5g", "--solver", "ilp", "-o", "yaml"}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := run(t, tc.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			p, err := plan.Parse([]byte(stdout))
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Tiers) != tc.tiers || p.Tiers[0].Device != tc.args[3] || p.Tiers[1].Network == "" {
				t.Errorf("tiers %+v", p.Tiers)
			}
			choice, err := p.Placement()
			if err != nil {
				t.Fatal(err)
			}
			own := 0
			for _, row := range p.SwitchTable {
				if !row.Feasible {
					continue
				}
				pl, err := p.RowPlacement(row)
				if err != nil {
					t.Fatal(err)
				}
				if len(pl.NodeTier) != len(choice.NodeTier) {
					t.Errorf("row %g–%g Mbps places %d nodes, the choice %d", row.FromMbps, row.ToMbps, len(pl.NodeTier), len(choice.NodeTier))
				}
				if row.FromMbps == p.ValidUplinkMbps[0] && row.ToMbps == p.ValidUplinkMbps[1] {
					own++
					if !pl.Equal(choice) {
						t.Errorf("the row of the valid range is not the choice's placement")
					}
				} else if pl.Equal(choice) {
					t.Errorf("row %g–%g Mbps repeats the choice's placement outside its range", row.FromMbps, row.ToMbps)
				}
			}
			if own != 1 {
				t.Errorf("%d rows cover the valid range", own)
			}
		})
	}
}
