package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"gpcollections/domain"
	"gpcollections/keys"
	"gpcollections/store"
	"gpcollections/store/ops"
)

func init() {
	register(initCmd)
	register(userCmd)
	register(orgCmd)
	register(backupCmd)
	register(restoreCmd)
	register(checkCmd)
}

func today() domain.Date { return domain.DateFromTime(time.Now()) }

func initCmd() *cobra.Command {
	var keyFile, name, fullName string
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a data directory with the national organisation and the first administrator",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			var key domain.PublicKey
			if keyFile != "" {
				if key, err = keys.ReadAuthorizedKeyFile(keyFile, today()); err != nil {
					return err
				}
			}
			s, err := store.Open(c.Data, store.Options{})
			if err != nil {
				return err
			}
			defer s.Close()
			u, err := ops.Bootstrap(s, name, fullName, key)
			if err != nil {
				return err
			}
			if err := seedServices(s, u); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created %s with administrator %s", s.Path(), u.Name)
			if key.Fingerprint != "" {
				fmt.Fprintf(cmd.OutOrStdout(), " (key %s)", key.Fingerprint)
			}
			fmt.Fprintln(cmd.OutOrStdout())
			return nil
		},
	}
	cmd.Flags().StringVar(&keyFile, "admin-key", "", "the administrator's SSH public key file (e.g. ~/.ssh/id_ed25519.pub)")
	cmd.Flags().StringVar(&name, "admin", "admin", "the administrator's user name")
	cmd.Flags().StringVar(&fullName, "admin-name", "Administrator", "the administrator's full name")
	return cmd
}

// seedServices is set by the service wiring (shipped rule sets) when present.
var seedServices = func(*store.Store, *domain.User) error { return nil }

func userCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage users, their roles and SSH keys"}
	var fullName, keyFile, bundle, org string
	var roles []string
	add := &cobra.Command{
		Use:   "add NAME",
		Short: "Add a user, optionally with a key and a role bundle or roles for an organisation",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withSession(cmd, func(ss *session) error {
				u := &domain.User{Name: args[0], FullName: fullName}
				if keyFile != "" {
					k, err := keys.ReadAuthorizedKeyFile(keyFile, today())
					if err != nil {
						return err
					}
					u.Keys = append(u.Keys, k)
				}
				rs, err := resolveRoles(bundle, roles)
				if err != nil {
					return err
				}
				if len(rs) > 0 {
					if org == "" {
						return fmt.Errorf("--org is required with --bundle or --role")
					}
					o, err := lookupOrg(ss, org)
					if err != nil {
						return err
					}
					for _, r := range rs {
						if err := u.AddGrant(domain.Grant{Org: o.Code, OrgKind: o.Kind, Role: r}); err != nil {
							return err
						}
					}
				}
				if err := ops.AddUser(ss.store, ss.actor, u); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "added user %s\n", u.Name)
				return nil
			})
		},
	}
	add.Flags().StringVar(&fullName, "name", "", "full name")
	add.Flags().StringVar(&keyFile, "key", "", "SSH public key file")
	add.Flags().StringVar(&bundle, "bundle", "", "role bundle: "+bundleNames())
	add.Flags().StringSliceVar(&roles, "role", nil, "role(s) to grant")
	add.Flags().StringVar(&org, "org", "", "organisation code the roles are for")

	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List the users you may see, with their grants and keys",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withSession(cmd, func(ss *session) error {
				users, err := ops.Users(ss.store, ss.actor)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), users)
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "USER\tNAME\tGRANTS\tKEYS\tSTATUS")
				for _, u := range users {
					var g []string
					for _, x := range u.Grants {
						g = append(g, x.String())
					}
					status := "active"
					if u.Disabled {
						status = "disabled"
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\n", u.Name, u.FullName, strings.Join(g, " "), len(u.Keys), status)
				}
				return w.Flush()
			})
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	grantFn := func(revoke bool) func(cmd *cobra.Command, args []string) error {
		return func(cmd *cobra.Command, args []string) error {
			return withSession(cmd, func(ss *session) error {
				rs, err := resolveRoles(bundle, roles)
				if err != nil {
					return err
				}
				if len(rs) == 0 {
					return fmt.Errorf("name a --bundle or at least one --role")
				}
				if org == "" {
					return fmt.Errorf("--org is required")
				}
				verb := "granted"
				if revoke {
					verb = "revoked"
					err = ops.Revoke(ss.store, ss.actor, args[0], org, rs)
				} else {
					err = ops.Grant(ss.store, ss.actor, args[0], org, rs)
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s for %s: %v\n", verb, args[0], org, rs)
				return nil
			})
		}
	}
	grant := &cobra.Command{Use: "grant NAME", Short: "Grant roles for an organisation", Args: cobra.ExactArgs(1), RunE: grantFn(false)}
	revoke := &cobra.Command{Use: "revoke NAME", Short: "Revoke roles for an organisation", Args: cobra.ExactArgs(1), RunE: grantFn(true)}
	for _, c := range []*cobra.Command{grant, revoke} {
		c.Flags().StringVar(&bundle, "bundle", "", "role bundle: "+bundleNames())
		c.Flags().StringSliceVar(&roles, "role", nil, "role(s)")
		c.Flags().StringVar(&org, "org", "", "organisation code")
	}

	addKey := &cobra.Command{
		Use:   "key-add NAME FILE",
		Short: "Add an SSH public key to a user",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withSession(cmd, func(ss *session) error {
				k, err := keys.ReadAuthorizedKeyFile(args[1], today())
				if err != nil {
					return err
				}
				if err := ops.AddKey(ss.store, ss.actor, args[0], k); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "added key %s to %s\n", k.Fingerprint, args[0])
				return nil
			})
		},
	}
	rmKey := &cobra.Command{
		Use:   "key-remove NAME FINGERPRINT",
		Short: "Remove an SSH key (by SHA256 fingerprint) from a user",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withSession(cmd, func(ss *session) error {
				if err := ops.RemoveKey(ss.store, ss.actor, args[0], args[1]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "removed key %s from %s\n", args[1], args[0])
				return nil
			})
		},
	}
	disable := &cobra.Command{
		Use:   "disable NAME",
		Short: "Disable a user (no sign-in, no actions)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withSession(cmd, func(ss *session) error { return ops.SetDisabled(ss.store, ss.actor, args[0], true) })
		},
	}
	enable := &cobra.Command{
		Use:   "enable NAME",
		Short: "Re-enable a disabled user",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withSession(cmd, func(ss *session) error { return ops.SetDisabled(ss.store, ss.actor, args[0], false) })
		},
	}
	cmd.AddCommand(add, list, grant, revoke, addKey, rmKey, disable, enable)
	return cmd
}

func bundleNames() string {
	var n []string
	for _, b := range domain.Bundles {
		n = append(n, b.Name)
	}
	return strings.Join(n, ", ")
}

func resolveRoles(bundle string, roles []string) ([]domain.Role, error) {
	var out []domain.Role
	if bundle != "" {
		b, err := domain.BundleByName(bundle)
		if err != nil {
			return nil, err
		}
		out = append(out, b.Roles...)
	}
	for _, r := range roles {
		role, err := domain.ParseRole(r)
		if err != nil {
			return nil, err
		}
		out = append(out, role)
	}
	return out, nil
}

func lookupOrg(ss *session, code string) (*domain.Org, error) {
	var o *domain.Org
	err := ss.store.View(func(tx *store.Tx) error {
		var err error
		o, err = tx.Org(code)
		return err
	})
	return o, err
}

func orgCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "org", Short: "Manage organisations: practices, commissioners, requesting organisations"}
	var kind, name, parent, listFrom string
	var listSize int64
	add := &cobra.Command{
		Use:   "add CODE",
		Short: "Register an organisation",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withSession(cmd, func(ss *session) error {
				o := &domain.Org{Code: args[0], Kind: domain.OrgKind(kind), Name: name, Parent: parent}
				if listSize > 0 {
					from := today()
					if listFrom != "" {
						d, err := domain.ParseDate(listFrom)
						if err != nil {
							return fmt.Errorf("--list-from: %w", err)
						}
						from = d
					}
					o.SetListSize(from, listSize)
				}
				if err := ops.AddOrg(ss.store, ss.actor, o); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "added %s %s\n", o.Kind, o.Code)
				return nil
			})
		},
	}
	add.Flags().StringVar(&kind, "kind", "practice", "practice, commissioner or requester")
	add.Flags().StringVar(&name, "name", "", "organisation name")
	add.Flags().StringVar(&parent, "commissioner", "", "a practice's commissioner code")
	add.Flags().Int64Var(&listSize, "list-size", 0, "a practice's registered list size")
	add.Flags().StringVar(&listFrom, "list-from", "", "date the list size applies from (default today)")

	setList := &cobra.Command{
		Use:   "list-size CODE SIZE --from DATE",
		Short: "Record a practice's list size from a date",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withSession(cmd, func(ss *session) error {
				var size int64
				if _, err := fmt.Sscan(args[1], &size); err != nil {
					return fmt.Errorf("list size %q: not a whole number", args[1])
				}
				from, err := domain.ParseDate(listFrom)
				if err != nil {
					return fmt.Errorf("--from: %w", err)
				}
				return ops.SetListSize(ss.store, ss.actor, args[0], from, size)
			})
		},
	}
	setList.Flags().StringVar(&listFrom, "from", "", "date the list size applies from")

	var asJSON bool
	var listKind string
	list := &cobra.Command{
		Use:   "list",
		Short: "List organisations",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withSession(cmd, func(ss *session) error {
				orgs, err := ops.Orgs(ss.store, ss.actor, domain.OrgKind(listKind))
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), orgs)
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "CODE\tKIND\tNAME\tCOMMISSIONER\tLIST SIZE")
				for _, o := range orgs {
					ls := ""
					if n, ok := o.ListSizeOn(today()); ok {
						ls = fmt.Sprint(n)
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", o.Code, o.Kind, o.Name, o.Parent, ls)
				}
				return w.Flush()
			})
		},
	}
	list.Flags().StringVar(&listKind, "kind", "", "only this kind")
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(add, list, setList)
	return cmd
}

func backupCmd() *cobra.Command {
	var to string
	cmd := &cobra.Command{
		Use:   "backup --to FILE",
		Short: "Write a consistent copy of the data file (while gpc serve runs: ssh -T HOST backup > FILE)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if to == "" {
				return fmt.Errorf("--to FILE is required")
			}
			c, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			s, err := openStore(c)
			if errors.Is(err, store.ErrInUse) {
				return fmt.Errorf("%w\nfor a hot backup of a running server, stream one over SSH as an administrator: ssh -T -p PORT HOST backup > %s", err, to)
			}
			if err != nil {
				return err
			}
			defer s.Close()
			n, err := s.BackupToFile(to)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "backed up %s to %s (%d bytes)\n", s.Path(), to, n)
			return nil
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "backup file to write")
	return cmd
}

func restoreCmd() *cobra.Command {
	var from string
	cmd := &cobra.Command{
		Use:   "restore --from FILE",
		Short: "Replace the data file with a checked backup (the current file is kept beside it)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" {
				return fmt.Errorf("--from FILE is required")
			}
			c, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			kept, err := store.Restore(c.Data, from, time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "restored %s from %s\n", filepath.Join(c.Data, store.DBFile), from)
			if kept != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "the previous data file is kept as %s\n", kept)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "backup file to restore")
	return cmd
}

func checkCmd() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check the data file: bbolt consistency, every record, and the audit hash chain",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			target, isFile := c.Data, false
			if file != "" {
				target, isFile = file, true
			}
			rep, err := store.Check(target, isFile)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s: schema %d, %d audit entries\n", rep.Path, rep.Schema, rep.AuditEntries)
			for _, p := range rep.Problems {
				fmt.Fprintln(out, "PROBLEM:", p)
			}
			if !rep.OK() {
				return &exitError{code: 2, err: fmt.Errorf("check failed: %s", rep.FirstProblem())}
			}
			fmt.Fprintln(out, "ok")
			return nil
		},
	}
	cmd.Flags().StringVar(&file, "file", "", "check this data file (e.g. a backup) instead of the data directory")
	return cmd
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
