package cli

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"

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
	Stack  string
}

// NewCmdHW lists the hardware catalog.
func NewCmdHW(io *IO) *cobra.Command {
	opts := &HWOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "hw [devices|servers|networks|stacks]",
		Short: "List the hardware catalog: edge devices, servers, networks and inference stacks, with sources",
		Long: "hw lists the catalog. Edge devices list the inference stacks the catalog has for them;\n" +
			"\"hw stacks\" lists every device × stack entry (fitted to published latencies, with its\n" +
			"leave-one-out error) and --stack NAME shows the devices as that stack runs them.",
		Example: "  mtlsplit hw devices\n  mtlsplit hw stacks\n  mtlsplit hw devices --stack ncnn -o yaml",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Kind = args[0]
			}
			return runHW(opts)
		},
	}
	cmd.Flags().StringVar(&opts.HW, "hw", "", "extra hardware catalog: a YAML file or a directory of them")
	cmd.Flags().StringVarP(&opts.Format, "output", "o", "table", "output format: table|yaml|json")
	cmd.Flags().StringVar(&opts.Stack, "stack", "", "show the edge devices as this inference stack runs them (see: mtlsplit hw stacks)")
	return cmd
}

func runHW(opts *HWOptions) error {
	if err := checkFormat(opts.Format, "table", "yaml", "json"); err != nil {
		return err
	}
	kinds := []string{"devices", "servers", "networks", "stacks"}
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
	devices := cat.Devices
	if opts.Stack != "" {
		if devices, err = devicesWithStack(cat, opts.Stack); err != nil {
			return err
		}
	}
	lists := map[string]any{"devices": devices, "servers": cat.Servers, "networks": cat.Networks, "stacks": cat.Stacks}
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
		if k == "stacks" {
			if err := writeStacks(w, cat.Stacks); err != nil {
				return err
			}
			continue
		}
		if k == "networks" {
			for _, n := range cat.Networks {
				rows = append(rows, []string{n.ID, n.Name, num(n.UplinkMbps), num(n.DownlinkMbps), num(n.RTTMS), num(n.TxPowerW)})
			}
			if err := writeTable(w, []string{"NETWORK", "NAME", "UP Mbps", "DOWN Mbps", "RTT ms", "TX W"}, rows); err != nil {
				return err
			}
			continue
		}
		devs := devices
		title := "DEVICE"
		if k == "servers" {
			devs, title = cat.Servers, "SERVER"
		}
		for _, d := range devs {
			lat := "predicted"
			switch {
			case d.Measured != "":
				lat = "measured: " + d.Measured
			case d.Stack != "":
				lat = fmt.Sprintf("predicted ±%.0f%%", d.ExpectedErrorPct.Value)
			}
			stacks := strings.Join(cat.StacksOf(d.ID), ",")
			if d.Stack != "" {
				stacks = d.Stack
			}
			if k == "servers" {
				stacks = "-"
			}
			rows = append(rows, []string{d.ID, d.Name, d.Dtype, num(d.PeakGFLOPS), num(d.MemBandwidthGBps), num(d.MemoryMB),
				num(d.LayerOverheadMS), num(d.ActivePowerW), lat, stacks})
		}
		if err := writeTable(w, []string{title, "NAME", "DTYPE", "PEAK GFLOP/s", "MEM GB/s", "MEMORY MB", "OVERHEAD ms", "POWER W", "LATENCY", "STACKS"}, rows); err != nil {
			return err
		}
	}
	fmt.Fprintln(w, "\nevery number carries its source: mtlsplit hw -o yaml")
	return nil
}

// devicesWithStack is every edge device the catalog has stack for, as the
// stack runs it.
func devicesWithStack(cat *hwprofiles.Catalog, stack string) ([]hwprofiles.Device, error) {
	var out []hwprofiles.Device
	var known []string
	for _, d := range cat.Devices {
		for _, s := range cat.StacksOf(d.ID) {
			if !slices.Contains(known, s) {
				known = append(known, s)
			}
		}
		if !slices.Contains(cat.StacksOf(d.ID), stack) {
			continue
		}
		ds, err := cat.DeviceStack(d.ID, stack)
		if err != nil {
			return nil, err
		}
		out = append(out, ds)
	}
	if len(out) == 0 {
		sort.Strings(known)
		return nil, fmt.Errorf("--stack %q: no device in the catalog has it%s", stack, suggest.Hint(stack, known))
	}
	return out, nil
}

// writeStacks is the table of device × stack entries.
func writeStacks(w io.Writer, stacks []hwprofiles.Stack) error {
	var rows [][]string
	for _, s := range stacks {
		threads := "-"
		if s.Threads > 0 {
			threads = fmt.Sprintf("%d @ %s GHz", s.Threads, num(s.ClockGHz))
		}
		rows = append(rows, []string{s.Device, s.Stack, s.Unit, s.Precision, threads, num(s.PeakGFLOPS), num(s.MemBandwidthGBps),
			num(s.LayerOverheadMS), num(s.CallOverheadMS), strconv.Itoa(s.PublishedRows), fmt.Sprintf("%.0f%%", s.ExpectedErrorPct.Value)})
	}
	return writeTable(w, []string{"DEVICE", "STACK", "UNIT", "PRECISION", "THREADS", "PEAK GFLOP/s", "MEM GB/s", "LAYER ms", "CALL ms", "ROWS", "LOO ERROR"}, rows)
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
