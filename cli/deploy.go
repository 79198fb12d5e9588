package cli

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/linkemu"
	"github.com/mtlsplit/mtlsplit/plan"
	"github.com/mtlsplit/mtlsplit/splitrun"
)

// DeployOptions are the options of "mtlsplit serve" and "mtlsplit run".
type DeployOptions struct {
	IO      *IO
	Plan    string
	Model   string
	Listen  string
	Connect string
	Input   string
	N       int
	Seed    uint64
	Threads int
	NoEmu   bool
	Format  string
	Quiet   bool
	Tier    int
	Next    string
	// Trace is a Mahimahi trace for the device's uplink (run only);
	// TraceDelayMS its propagation delay when traceDelayGiven, else
	// half the plan's RTT.
	Trace           string
	TraceDelayMS    int
	traceDelayGiven bool
	// seedGiven says --seed was on the command line.
	seedGiven bool
	// Server is the server's URL (run); Workers, Queue and TimeoutS size
	// the server's pool (serve).
	Server         string
	Weights        string // a zoo model's trained weights (safetensors)
	Workers, Queue int
	TimeoutS       float64
	Security       SecurityOptions
	// NextSecurity is how a tier reaches the next (serve --next).
	NextSecurity SecurityOptions
	// Data answers a data set (run --data DIR); flags is run's flag set,
	// to refuse the data flags without --data.
	Data  RunDataOptions
	flags *pflag.FlagSet
	// Adaptive follows the plan's switch table (run).
	Adaptive bool
}

const weightsFlagHelp = "trained weights of a zoo plan's model (FILE.safetensors from 'mtlsplit train'); edge and server must use the same file"

const modelFlagHelp = "the ONNX file of a plan made from one, when not at the plan's path (its SHA-256 must be the plan's)"

// nextLink is the emulated network from tier k to the next, or nil.
func nextLink(d *splitrun.Deployment, k int, noEmu bool) *splitrun.Link {
	if noEmu || k+1 >= len(d.Plan.Tiers) {
		return nil
	}
	t := d.Plan.Tiers[k+1]
	return &splitrun.Link{UplinkMbps: t.UplinkMbps, DownlinkMbps: t.DownlinkMbps, RTTMS: t.RTTMS}
}

func (o *DeployOptions) deployment() (*splitrun.Deployment, error) {
	if o.Plan == "" {
		return nil, fmt.Errorf("--plan FILE is required (write one with 'mtlsplit plan ... --out plan.yaml')")
	}
	p, err := plan.Load(o.Plan)
	if err != nil {
		return nil, err
	}
	file := p.File(o.Plan, o.Model)
	if o.Model != "" && (p.Model.Source == nil || p.Model.Source.Kind != plan.SourceONNX) {
		return nil, fmt.Errorf("--model %s: %s is a plan of zoo model %s, which loads no file: leave --model out", o.Model, o.Plan, p.Model.Name)
	}
	if s := p.Model.Source; s != nil && s.Seed != nil {
		if o.seedGiven && o.Seed != *s.Seed {
			return nil, fmt.Errorf("--seed %d: %s was made for weights of seed %d (model.source.seed): leave --seed out", o.Seed, o.Plan, *s.Seed)
		}
		o.Seed = *s.Seed
	}
	m, err := splitrun.Open(p, file)
	if err != nil {
		return nil, err
	}
	if o.Weights != "" {
		if err := m.LoadWeights(o.Weights); err != nil {
			return nil, fmt.Errorf("--weights %w", err)
		}
	}
	return m.Prepare()
}

// NewCmdServe runs the server side of a plan.
func NewCmdServe(io *IO) *cobra.Command {
	opts := &DeployOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "serve --plan plan.yaml [--model FILE.onnx] [--listen 127.0.0.1:7070]",
		Short: "Serve every cut of a plan's model over the Open Inference Protocol (KServe v2, HTTP)",
		Long: "serve answers POST /v2/models/NAME/infer with the tasks asked for, from the cut tensors sent\n" +
			"(any placement of the plan: its choice or a switch-table row, so an edge may change its cut\n" +
			"without a restart), plus GET /v2/health/live, /v2/health/ready, /v2/models/NAME(/ready) and\n" +
			"/metrics (Prometheus). A pool of --workers runs requests, --queue more may wait, past that 503.\n" +
			"Ctrl-C stops accepting and finishes the requests in flight.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.seedGiven = cmd.Flags().Changed("seed")
			return runServe(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Plan, "plan", "", "deployment plan (YAML)")
	cmd.Flags().StringVar(&opts.Model, "model", "", modelFlagHelp)
	cmd.Flags().StringVar(&opts.Weights, "weights", "", weightsFlagHelp)
	cmd.Flags().StringVar(&opts.Listen, "listen", "127.0.0.1:7070", "address to listen on")
	cmd.Flags().Uint64Var(&opts.Seed, "seed", 1, "seed of the random weights, for a plan that records none (the edge must use the same)")
	cmd.Flags().IntVar(&opts.Threads, "threads", 0, "engine threads (0: all cores)")
	cmd.Flags().IntVar(&opts.Tier, "tier", 1, "which tier this server is, with more than two (1: the first behind the device)")
	cmd.Flags().StringVar(&opts.Next, "next", "", "address of the next tier's server, with more than two tiers")
	cmd.Flags().BoolVar(&opts.NoEmu, "no-emulate", false, "do not pace the link to the next tier")
	cmd.Flags().IntVar(&opts.Workers, "workers", 0, "requests run in parallel, each worker with its own engine program (0: one per core)")
	cmd.Flags().IntVar(&opts.Queue, "queue", 0, "requests that may wait for a worker before the server answers 503 (0: 2 per worker)")
	cmd.Flags().Float64Var(&opts.TimeoutS, "timeout", 30, "seconds a request may take from arrival to answer (queued past it: 503)")
	sec := &opts.Security
	cmd.Flags().StringVar(&sec.TLSCert, "tls-cert", "", "serve HTTPS with this certificate (PEM; with --tls-key)")
	cmd.Flags().StringVar(&sec.TLSKey, "tls-key", "", "the private key of --tls-cert (PEM)")
	cmd.Flags().StringVar(&sec.ClientCA, "client-ca", "", "mutual TLS: accept only clients whose certificate this CA (PEM) signed")
	cmd.Flags().StringVar(&sec.TokenFile, "token-file", "", "require this bearer token (the file's first line) on every request but the health checks")
	next := &opts.NextSecurity
	cmd.Flags().StringVar(&next.TokenFile, "next-token-file", "", "the bearer token of the --next server (the file's first line)")
	cmd.Flags().StringVar(&next.CACert, "next-ca-cert", "", "trust this CA (PEM) for an https:// --next server")
	return cmd
}

// checkListen refuses an address that does not say where to listen, and
// warns when it opens every interface: the server runs whatever tensors
// reach it, so exposing it must be a choice written out.
func checkListen(io *IO, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return fmt.Errorf("--listen %q: want HOST:PORT, e.g. 127.0.0.1:7070 (0.0.0.0:7070 listens on every interface)", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("--listen %q: port %q is not a number from 0 to 65535", addr, port)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		fmt.Fprintf(io.Err, "warning: --listen %s accepts connections on every interface of this machine\n", addr)
	}
	return nil
}

func checkThreads(n int) error {
	if n < 0 {
		return fmt.Errorf("--threads %d: want a number of threads ≥ 0 (0: all cores)", n)
	}
	return nil
}

func runServe(opts *DeployOptions) error {
	if err := checkListen(opts.IO, opts.Listen); err != nil {
		return err
	}
	if err := checkThreads(opts.Threads); err != nil {
		return err
	}
	if opts.Workers < 0 || opts.Queue < 0 || !(opts.TimeoutS > 0) {
		return fmt.Errorf("--workers %d --queue %d --timeout %g: want workers and queue ≥ 0 (0: the default) and a timeout > 0 s", opts.Workers, opts.Queue, opts.TimeoutS)
	}
	tlsConf, err := opts.Security.serverTLS()
	if err != nil {
		return err
	}
	token, err := opts.Security.token()
	if err != nil {
		return err
	}
	d, err := opts.deployment()
	if err != nil {
		return err
	}
	if opts.Tier < 1 || opts.Tier >= d.NumTiers() {
		return fmt.Errorf("--tier %d: the plan has tiers 1 to %d behind the device", opts.Tier, d.NumTiers()-1)
	}
	if opts.Tier+1 < d.NumTiers() && opts.Next == "" {
		return fmt.Errorf("tier %d forwards to tier %d: give its address with --next", opts.Tier, opts.Tier+1)
	}
	nextToken, err := opts.NextSecurity.token()
	if err != nil {
		return fmt.Errorf("--next-%w", trimDashes(err))
	}
	nextTLS, err := opts.NextSecurity.clientTLS()
	if err != nil {
		return fmt.Errorf("--next-%w", trimDashes(err))
	}
	warnExposure(opts.IO, opts.Listen, tlsConf != nil, token != "")
	srv := &splitrun.Server{Model: d.Model(), Seed: opts.Seed, Tier: opts.Tier, Next: opts.Next, NextLink: nextLink(d, opts.Tier, opts.NoEmu),
		Engine:  engine.Options{Threads: opts.Threads, Backend: engine.BestBackend()},
		Workers: opts.Workers, Queue: opts.Queue, Timeout: time.Duration(opts.TimeoutS * float64(time.Second)),
		Token: token, TLS: tlsConf, NextToken: nextToken, NextTLS: nextTLS,
		Log: func(f string, a ...any) { fmt.Fprintf(opts.IO.Err, f+"\n", a...) }}
	if err := srv.Start(); err != nil {
		return internal(err)
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return err
	}
	scheme := "http"
	if tlsConf != nil {
		scheme = "https"
	}
	fmt.Fprintf(opts.IO.Err, "serving every cut of %s as tier %d on %s://%s (POST /v2/models/%s/infer)\n", d.Graph.Name, opts.Tier, scheme, ln.Addr(), d.Plan.Model.Name)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	done := make(chan error, 1)
	go func() {
		<-stop
		fmt.Fprintln(opts.IO.Err, "stopping: finishing the requests in flight")
		ctx, cancel := context.WithTimeout(context.Background(), srv.Timeout+5*time.Second)
		defer cancel()
		done <- srv.Shutdown(ctx)
	}()
	if err := srv.Serve(ln); err != nil {
		return err
	}
	return <-done
}

// trimDashes drops the leading "--" of a flag error, for a prefix.
func trimDashes(err error) error { return errors.New(strings.TrimPrefix(err.Error(), "--")) }

// NewCmdRun runs the edge side of a plan and reports measured against
// predicted.
func NewCmdRun(io *IO) *cobra.Command {
	opts := &DeployOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "run --plan plan.yaml [--model FILE.onnx] [--server URL] [--n 20] [--trace FILE]",
		Short: "Run a deployment plan's edge side over a real socket and report measured against predicted",
		Long: "run executes the edge side of a plan: the backbone up to the cut, the encoding, the send\n" +
			"to the server (Open Inference Protocol over HTTP), the edge heads. Without --server it starts\n" +
			"the server side itself on a loopback socket. The plan's network is emulated as follows:\n" +
			"socket. The plan's network (bandwidth and RTT) is emulated by pacing the real socket\n" +
			"(--no-emulate sends at loopback speed); --trace FILE instead sends the device's uplink at the\n" +
			"delivery times of a Mahimahi trace (one line per 1500-byte packet, the millisecond it may go;\n" +
			"the trace repeats) after --trace-delay-ms, from a 100-packet queue; replies keep the plan's\n" +
			"downlink. Note that both sides run on this machine: compare with a plan made for it\n" +
			"(--device epyc-2c --profile host.yaml --server-profile host.yaml).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.seedGiven = cmd.Flags().Changed("seed")
			opts.traceDelayGiven = cmd.Flags().Changed("trace-delay-ms")
			opts.flags = cmd.Flags()
			return runRun(opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Plan, "plan", "", "deployment plan (YAML)")
	f.StringVar(&opts.Model, "model", "", modelFlagHelp)
	f.StringVar(&opts.Weights, "weights", "", weightsFlagHelp)
	f.StringVar(&opts.Server, "server", "", "the server's URL, http://HOST:PORT or https://HOST:PORT (default: start one here on loopback)")
	f.StringVar(&opts.Connect, "connect", "", "the server's HOST:PORT (plain HTTP)")
	f.MarkDeprecated("connect", "use --server http://HOST:PORT")
	sec := &opts.Security
	f.StringVar(&sec.TokenFile, "token-file", "", "send this bearer token (the file's first line) to the server")
	f.StringVar(&sec.CACert, "ca-cert", "", "trust this CA (PEM) for an https:// server's certificate")
	f.StringVar(&sec.TLSCert, "tls-cert", "", "client certificate (PEM) for a server that requires mutual TLS (with --tls-key)")
	f.StringVar(&sec.TLSKey, "tls-key", "", "the private key of --tls-cert (PEM)")
	f.StringVar(&opts.Input, "input", "", "input file (raw float32); default: a seeded random image")
	f.IntVar(&opts.N, "n", 20, "inferences to time (after one warm-up)")
	f.Uint64Var(&opts.Seed, "seed", 1, "seed of the random weights, for a plan that records none (the server must use the same)")
	f.IntVar(&opts.Threads, "threads", 0, "engine threads (0: all cores)")
	f.BoolVar(&opts.NoEmu, "no-emulate", false, "do not pace the socket to the plan's network")
	f.StringVar(&opts.Trace, "trace", "", "emulate the uplink from a Mahimahi trace FILE (a millisecond per line at which one 1500-byte packet may go; it repeats) instead of the plan's bandwidth")
	f.IntVar(&opts.TraceDelayMS, "trace-delay-ms", 0, "propagation delay of the --trace uplink in ms (default: half the plan's RTT)")
	f.BoolVar(&opts.Adaptive, "adaptive", false, adaptiveFlagHelp)
	f.StringVarP(&opts.Format, "output", "o", "table", "output format: table|json")
	f.BoolVarP(&opts.Quiet, "quiet", "q", false, "no progress bar")
	opts.Data.addFlags(f)
	return cmd
}

func runRun(opts *DeployOptions) error {
	if err := checkFormat(opts.Format, "table", "json"); err != nil {
		return err
	}
	if err := opts.Data.check(opts.flags, opts.Input); err != nil {
		return err
	}
	if opts.N < 1 {
		return fmt.Errorf("--n %d: need at least one inference", opts.N)
	}
	if err := checkThreads(opts.Threads); err != nil {
		return err
	}
	if err := checkAdaptive(opts); err != nil {
		return err
	}
	d, err := opts.deployment()
	if err != nil {
		return err
	}
	sends := d.Sends()
	var newAdaptive func() *splitrun.Adaptive
	if opts.Adaptive {
		var rowsSend bool
		if newAdaptive, rowsSend, err = adaptiveEdges(d.Model(), opts.IO.Err); err != nil {
			return err
		}
		sends = sends || rowsSend
	}
	uplink, err := traceUplink(opts, d)
	if err != nil {
		return err
	}
	eo := engine.Options{Threads: opts.Threads, Backend: engine.BestBackend()}
	prog, err := d.Compile(opts.Seed, eo)
	if err != nil {
		return internal(err)
	}
	defer prog.Close()
	if opts.Server != "" && opts.Connect != "" {
		return fmt.Errorf("--server %s and --connect %s: give one (--connect is the old spelling)", opts.Server, opts.Connect)
	}
	addr := opts.Server
	if opts.Connect != "" {
		addr = "http://" + opts.Connect
	}
	token, err := opts.Security.token()
	if err != nil {
		return err
	}
	tlsConf, err := opts.Security.clientTLS()
	if err != nil {
		return err
	}
	if addr == "" && sends {
		// Every tier behind the device, here on loopback, the last first
		// so each knows the address of the next.
		for k := d.NumTiers() - 1; k >= 1; k-- {
			srv := &splitrun.Server{Model: d.Model(), Seed: opts.Seed, Tier: k, Next: addr, NextLink: nextLink(d, k, opts.NoEmu),
				Workers: 1, Engine: eo, Token: token, NextToken: token}
			if err := srv.Start(); err != nil {
				return internal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return err
			}
			go srv.Serve(ln)
			defer srv.Shutdown(context.Background())
			addr = "http://" + ln.Addr().String()
		}
	}
	// Every edge of the run is dressed the same: link, trace, token, TLS.
	newEdge := func(p *engine.Program) *splitrun.Edge {
		e := &splitrun.Edge{D: d, Prog: p, Uplink: uplink, Token: token, TLS: tlsConf}
		if newAdaptive != nil {
			e.Adapt = newAdaptive()
		}
		if !opts.NoEmu {
			n := d.Plan.Uplink()
			e.Link = &splitrun.Link{UplinkMbps: n.UplinkMbps, DownlinkMbps: n.DownlinkMbps, RTTMS: n.RTTMS}
		}
		return e
	}
	if opts.Data.Set.Dir != "" {
		return runData(opts, d, prog, addr, newEdge)
	}
	var in []float32
	if opts.Input != "" {
		if in, err = readF32(opts.Input, d.Graph.Input.Elems()); err != nil {
			return err
		}
	} else {
		rng := rand.New(rand.NewPCG(opts.Seed, 9))
		in = make([]float32, d.Graph.Input.Elems())
		for i := range in {
			in[i] = float32(rng.NormFloat64())
		}
	}
	e := newEdge(prog)
	if err := e.Dial(addr, opts.Seed); err != nil {
		return fmt.Errorf("connect %s: %w", addr, err)
	}
	defer e.Close()
	if _, err := e.Infer(in); err != nil { // warm-up
		return internal(err)
	}
	bar := progress(opts.IO, opts.Quiet, "run")
	var ts []splitrun.Timing
	for i := range opts.N {
		t, err := e.Infer(in)
		if err != nil {
			return internal(err)
		}
		ts = append(ts, t)
		if bar != nil {
			bar(i+1, opts.N)
		}
	}
	s := splitrun.Summarize(d.Plan, ts)
	as := summarizeAdaptive(d.Plan, ts)
	if opts.Format == "json" {
		return writeJSON(opts.IO.Out, runSummary{Summary: s, Adaptive: as})
	}
	w := opts.IO.Out
	emu := "emulated " + fmt.Sprintf("%.4g Mbps up, %.4g ms RTT", d.Plan.Uplink().UplinkMbps, d.Plan.Uplink().RTTMS)
	if opts.NoEmu {
		emu = "loopback speed"
	}
	if uplink != nil {
		emu = fmt.Sprintf("uplink from trace %s, mean %.4g Mbps, %d ms delay", opts.Trace, uplink.Trace.MeanMbps(), uplink.DelayMS)
	}
	cut := fmt.Sprintf("cut after %s, %s", d.Plan.Choice.Cut, d.Plan.Choice.Encoding)
	if as != nil {
		cut = "following the switch table"
	}
	fmt.Fprintf(w, "%s: %s, over %s (%s); %d inferences, medians\n\n", d.Graph.Name, cut, addrOr(addr), emu, s.N)
	if err := writeTable(w, []string{"", "MEASURED ms", "PREDICTED ms", "ERROR"}, stageRows(s)); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nthe plan predicted for edge %s and server %s; here both run on this machine\n", d.Plan.Tiers[0].Device, d.Plan.Uplink().Device)
	return printAdaptive(w, as)
}

// traceUplink is the trace-driven uplink --trace asks for, or nil.
func traceUplink(opts *DeployOptions, d *splitrun.Deployment) (*linkemu.Link, error) {
	if opts.traceDelayGiven && opts.TraceDelayMS < 0 {
		return nil, fmt.Errorf("--trace-delay-ms %d: want 0 or more milliseconds", opts.TraceDelayMS)
	}
	if opts.Trace == "" {
		if opts.traceDelayGiven {
			return nil, fmt.Errorf("--trace-delay-ms %d: only with --trace FILE", opts.TraceDelayMS)
		}
		return nil, nil
	}
	if opts.NoEmu {
		return nil, fmt.Errorf("--trace %s with --no-emulate: choose one (a trace emulates the uplink)", opts.Trace)
	}
	tr, err := linkemu.LoadTrace(opts.Trace)
	if err != nil {
		return nil, fmt.Errorf("--trace: %w", err)
	}
	delay := opts.TraceDelayMS
	if !opts.traceDelayGiven {
		delay = int(math.Round(d.Plan.Uplink().RTTMS / 2))
	}
	return &linkemu.Link{Trace: tr, DelayMS: delay}, nil
}

func addrOr(a string) string {
	if a == "" {
		return "no socket (local-only)"
	}
	return a
}
