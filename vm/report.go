package vm

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/ecc-bpf/ecc/internal/termsafe"
	"github.com/ecc-bpf/ecc/internal/vmproto"
)

// WriteText prints a table with a row per kernel, then what each program
// did on each kernel, the first event seen, and why a kernel failed.
func WriteText(w io.Writer, reports []Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KERNEL\tRELEASE\tRESULT\tPROGRAMS\tEVENTS\tMAP ROWS\tBOOT\tTOTAL")
	for _, r := range reports {
		result := "pass"
		if !r.Passed {
			result = "FAIL"
		}
		progs, boot, total := programsSummary(r.Programs), fmt.Sprintf("%.1fs", float64(r.BootMS)/1000), fmt.Sprintf("%.1fs", float64(r.MS)/1000)
		if r.Accel == "" {
			progs, boot, total = "not booted", "-", "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n",
			termsafe.Line(filepath.Base(r.Kernel)), termsafe.Line(r.Release), result, progs, r.Events, r.MapRows, boot, total)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range reports {
		var about []string
		for _, a := range []string{r.Release, r.Arch, r.Accel} {
			if a != "" {
				about = append(about, termsafe.Line(a))
			}
		}
		if !r.KernelBTF && r.Accel != "" {
			about = append(about, "no kernel BTF")
		}
		fmt.Fprintf(w, "\n%s (%s):\n", termsafe.Line(r.Kernel), strings.Join(about, ", "))
		pw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, p := range r.Programs {
			why := p.Reason
			if p.Error != "" {
				why, _, _ = strings.Cut(p.Error, "\n")
			}
			fmt.Fprintf(pw, "  %s\t%s\t%s", termsafe.Line(p.Name), termsafe.Line(p.Section), p.State)
			if why != "" {
				fmt.Fprintf(pw, "\t%s", termsafe.Line(why))
			}
			fmt.Fprintln(pw)
		}
		pw.Flush()
		for _, p := range r.Programs {
			if len(p.VerifierLog) > 0 {
				fmt.Fprintf(w, "  verifier log of %s (end):\n", termsafe.Line(p.Name))
				for _, l := range p.VerifierLog {
					fmt.Fprintf(w, "    %s\n", termsafe.Line(l))
				}
			}
		}
		if len(r.Samples) > 0 {
			fmt.Fprintf(w, "  first event: %s\n", termsafe.Line(string(r.Samples[0])))
		}
		if r.Printk > 0 {
			fmt.Fprintf(w, "  bpf_printk lines: %d\n", r.Printk)
		}
		if r.Command != nil {
			fmt.Fprintf(w, "  COMMAND exited %d\n", r.Command.Exit)
			if r.Command.Exit != 0 {
				for l := range strings.Lines(r.Command.Output) {
					fmt.Fprintf(w, "    > %s\n", termsafe.Line(strings.TrimRight(l, "\n")))
				}
			}
		}
		if r.Error != "" {
			fmt.Fprintf(w, "  error: %s\n", termsafe.Text(r.Error))
			// The programs' own failures are shown above; other errors
			// come with the end of ecli's messages or the console.
			if !slices.ContainsFunc(r.Programs, func(p vmproto.Program) bool { return p.State == vmproto.Failed }) {
				for _, l := range r.Log {
					fmt.Fprintf(w, "    | %s\n", termsafe.Line(l))
				}
			}
		}
	}
	return nil
}

// programsSummary is "2/2 attached", "1/2 attached, 1 twin", ...
func programsSummary(ps []vmproto.Program) string {
	counts := map[string]int{}
	for _, p := range ps {
		counts[p.State]++
	}
	s := fmt.Sprintf("%d/%d attached", counts[vmproto.Attached], len(ps))
	for _, st := range []string{vmproto.Twin, vmproto.Manual, vmproto.Skipped, vmproto.Failed} {
		if n := counts[st]; n > 0 {
			s += fmt.Sprintf(", %d %s", n, st)
		}
	}
	return s
}
