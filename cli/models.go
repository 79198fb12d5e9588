package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mtlsplit/mtlsplit/model"
)

// ModelsOptions are the options of "mtlsplit models".
type ModelsOptions struct {
	IO     *IO
	Input  int
	Format string
}

// NewCmdModels lists the model zoo.
func NewCmdModels(io *IO) *cobra.Command {
	opts := &ModelsOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "models",
		Short: "List the model zoo with parameters and MACs",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return runModels(opts) },
	}
	cmd.Flags().IntVar(&opts.Input, "input", 224, inputHelp)
	cmd.Flags().StringVarP(&opts.Format, "output", "o", "table", "output format: table|json|csv")
	return cmd
}

type modelSummary struct {
	Name     string `json:"name"`
	Input    int    `json:"input"`
	Blocks   int    `json:"blocks"`
	Layers   int    `json:"layers"`
	Params   int64  `json:"params"`
	MACs     int64  `json:"macs"`
	OutShape []int  `json:"out_shape"`
}

func runModels(opts *ModelsOptions) error {
	if err := checkFormat(opts.Format, "table", "json", "csv"); err != nil {
		return err
	}
	if err := checkInput(opts.Input); err != nil {
		return err
	}
	var list []modelSummary
	for _, name := range model.Zoo() {
		g, err := model.New(name, opts.Input, nil)
		if err != nil {
			return err
		}
		list = append(list, modelSummary{Name: name, Input: opts.Input, Blocks: len(g.Blocks), Layers: len(model.Leaves(g)),
			Params: g.BackboneParams(), MACs: g.BackboneMACs(), OutShape: g.Blocks[len(g.Blocks)-1].OutShape})
	}
	if opts.Format == "json" {
		return writeJSON(opts.IO.Out, list)
	}
	header := []string{"MODEL", "INPUT", "BLOCKS", "LAYERS", "PARAMS", "MACS", "OUTPUT"}
	var rows [][]string
	for _, m := range list {
		params, macs := human(float64(m.Params)), human(float64(m.MACs))
		if opts.Format == "csv" {
			params, macs = fmt.Sprint(m.Params), fmt.Sprint(m.MACs)
		}
		rows = append(rows, []string{m.Name, fmt.Sprint(m.Input), fmt.Sprint(m.Blocks), fmt.Sprint(m.Layers), params, macs, shapeString(m.OutShape)})
	}
	if opts.Format == "csv" {
		return writeCSV(opts.IO.Out, header, rows)
	}
	return writeTable(opts.IO.Out, header, rows)
}
