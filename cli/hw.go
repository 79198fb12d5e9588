package cli

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/mtlsplit/mtlsplit/hwprofiles"
	"github.com/mtlsplit/mtlsplit/internal/suggest"
)

// HWOptions are the options of "mtlsplit hw".
type HWOptions struct {
	IO     *IO
	Kind   string
	HW     string
	Format string
}

// NewCmdHW lists the hardware catalog.
func NewCmdHW(io *IO) *cobra.Command {
	opts := &HWOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "hw [devices|servers|networks]",
		Short: "List the hardware catalog: edge devices, servers and networks, with sources",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Kind = args[0]
			}
			return runHW(opts)
		},
	}
	cmd.Flags().StringVar(&opts.HW, "hw", "", "extra hardware catalog: a YAML file or a directory of them")
	cmd.Flags().StringVarP(&opts.Format, "output", "o", "table", "output format: table|yaml|json")
	return cmd
}

func runHW(opts *HWOptions) error {
	if err := checkFormat(opts.Format, "table", "yaml", "json"); err != nil {
		return err
	}
	kinds := []string{"devices", "servers", "networks"}
	if opts.Kind != "" {
		if err := checkKind(opts.Kind, kinds); err != nil {
			return err
		}
		kinds = []string{opts.Kind}
	}
	cat, err := hwprofiles.Default()
	if err != nil {
		return internal(err)
	}
	if opts.HW != "" {
		user, err := hwprofiles.Load(opts.HW)
		if err != nil {
			return err
		}
		cat = cat.Merge(user)
	}
	lists := map[string]any{"devices": cat.Devices, "servers": cat.Servers, "networks": cat.Networks}
	if opts.Format != "table" {
		sel := map[string]any{}
		for _, k := range kinds {
			sel[k] = lists[k]
		}
		if opts.Format == "yaml" {
			return writeYAML(opts.IO.Out, sel)
		}
		// JSON with the catalog's own (YAML) field names.
		raw, err := yaml.Marshal(sel)
		if err != nil {
			return internal(err)
		}
		var generic map[string]any
		if err := yaml.Unmarshal(raw, &generic); err != nil {
			return internal(err)
		}
		return writeJSON(opts.IO.Out, generic)
	}
	w := opts.IO.Out
	for i, k := range kinds {
		if i > 0 {
			fmt.Fprintln(w)
		}
		var rows [][]string
		if k == "networks" {
			for _, n := range cat.Networks {
				rows = append(rows, []string{n.ID, n.Name, num(n.UplinkMbps), num(n.DownlinkMbps), num(n.RTTMS), num(n.TxPowerW)})
			}
			if err := writeTable(w, []string{"NETWORK", "NAME", "UP Mbps", "DOWN Mbps", "RTT ms", "TX W"}, rows); err != nil {
				return err
			}
			continue
		}
		devs := cat.Devices
		title := "DEVICE"
		if k == "servers" {
			devs, title = cat.Servers, "SERVER"
		}
		for _, d := range devs {
			lat := "predicted"
			if d.Measured != "" {
				lat = "measured: " + d.Measured
			}
			rows = append(rows, []string{d.ID, d.Name, d.Dtype, num(d.PeakGFLOPS), num(d.MemBandwidthGBps), num(d.MemoryMB),
				num(d.LayerOverheadMS), num(d.ActivePowerW), lat})
		}
		if err := writeTable(w, []string{title, "NAME", "DTYPE", "PEAK GFLOP/s", "MEM GB/s", "MEMORY MB", "OVERHEAD ms", "POWER W", "LATENCY"}, rows); err != nil {
			return err
		}
	}
	fmt.Fprintln(w, "\nevery number carries its source: mtlsplit hw -o yaml")
	return nil
}

func checkKind(kind string, valid []string) error {
	for _, v := range valid {
		if kind == v {
			return nil
		}
	}
	return fmt.Errorf("unknown catalog section %q%s", kind, suggest.Hint(kind, valid))
}

func num(n hwprofiles.Number) string { return strconv.FormatFloat(n.Value, 'g', 6, 64) }

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func sortFloats(xs []float64) { sort.Float64s(xs) }
