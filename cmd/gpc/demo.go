package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	gossh "golang.org/x/crypto/ssh"

	"gpcollections/store"
	"gpcollections/store/demo"
)

func init() { register(demoCmd) }

// demoData is the demo's data directory unless --data or GPC_DATA says
// otherwise.
const demoData = "demo-data"

func demoCmd() *cobra.Command {
	var scale float64
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Seed a realistic demo on first run, then serve it over SSH and print how to connect",
		Long: `On first run in an empty data directory (default ./demo-data) gpc demo builds a
demonstration: one commissioner, five practices with generated clinical
records, QOF 2025/26, seasonal flu and learning disability health checks on a
timetable, a service year of extractions, manual entries, declarations,
approvals and payment runs, and users for every role bundle with SSH keys
under DATA/demo-keys. It then serves over SSH with the clock starting at the
demo's "today" (` + demo.Today + `, England) and prints one ssh line per user.
A second run reuses the data.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f := cmd.Flags().Lookup("data"); f != nil && !f.Changed && os.Getenv("GPC_DATA") == "" {
				_ = cmd.Flags().Set("data", demoData)
			}
			c, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if !demo.Exists(c.Data) {
				if _, err := os.Stat(filepath.Join(c.Data, store.DBFile)); err == nil {
					return fmt.Errorf("%s holds gpc data that is not a demo; choose another --data directory", c.Data)
				}
				fmt.Fprintf(out, "gpc demo: seeding %s (first run; takes a little while)\n", c.Data)
				if _, err := demo.Seed(c.Data, out, scale); err != nil {
					return fmt.Errorf("seeding the demo: %w (delete %s and try again)", err, c.Data)
				}
				if err := writeDemoConfig(c.Data); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(out, "gpc demo: reusing %s\n", c.Data)
			}
			if c, err = loadConfig(cmd); err != nil { // picks up the demo clock
				return err
			}
			man, err := demo.Load(c.Data)
			if err != nil {
				return err
			}
			logPath := filepath.Join(c.Data, "gpc.log")
			lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
			if err != nil {
				return err
			}
			defer lf.Close()
			log := slog.New(slog.NewTextHandler(lf, nil))
			return serve(cmd.Context(), c, log, func(addr net.Addr, hostKey gossh.PublicKey) {
				known := filepath.Join(c.Data, "known_hosts")
				hostID := fmt.Sprintf("[%s]:%s", host(addr), port(addr))
				line := hostID + " " + strings.TrimSpace(string(gossh.MarshalAuthorizedKey(hostKey))) + "\n"
				if err := os.WriteFile(known, []byte(line), 0o600); err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), "gpc demo: writing", known, err)
				}
				fmt.Fprintf(out, "gpc demo: serving on %s; the clock starts at %s (England); log in %s\n", addr, man.Today, logPath)
				fmt.Fprintln(out, "gpc demo: connect as one of these (Ctrl+C here stops the server):")
				for _, u := range man.Users {
					fmt.Fprintf(out, "  %-6s %-22s ssh -p %s -i %s -o IdentitiesOnly=yes -o UserKnownHostsFile=%s %s@%s\n",
						u.Name, u.Bundle+"@"+u.Org, port(addr), filepath.Join(c.Data, u.Key), known, u.Name, host(addr))
				}
			})
		},
	}
	addConfigFlags(cmd, "listen", "idle_timeout", "max_session", "workers")
	cmd.Flags().Float64Var(&scale, "scale", 1, "multiply the demo practices' sizes (first run only)")
	return cmd
}

// writeDemoConfig fixes the demo's clock in DATA/gpc.toml, so gpc serve on
// the directory runs the same "today".
func writeDemoConfig(dir string) error {
	path := filepath.Join(dir, ConfigFile)
	if _, err := os.Stat(path); err == nil {
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	body := fmt.Sprintf("# Written by gpc demo: every gpc process on this directory starts its clock\n# at the demo's \"today\" (England time) and runs on from there.\nclock = %q\n", demo.Today)
	return os.WriteFile(path, []byte(body), 0o600)
}
