package main

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"gpcollections/domain"
	"gpcollections/domain/calc"
	"gpcollections/store"
	"gpcollections/store/ops"
)

// The workflow commands: offers, manual entry, declaration, approval and
// the approval queue. Each is one ops call acting as --as.

func init() {
	register(offerCmd)
	register(func() *cobra.Command { return answerCmd("accept") })
	register(func() *cobra.Command { return answerCmd("decline") })
	register(func() *cobra.Command { return answerCmd("withdraw") })
	register(manualCmd)
	register(declareCmd)
	register(func() *cobra.Command { return decisionCmd("approve") })
	register(func() *cobra.Command { return decisionCmd("return") })
	register(func() *cobra.Command { return decisionCmd("finance-approve") })
	register(queueCmd)
	register(deadlineCmd)
	register(recalcCmd)
}

// collFlags name a collection by id or by service and achievement date.
type collFlags struct {
	id      uint64
	service string
	date    string
}

func (f *collFlags) add(cmd *cobra.Command) {
	cmd.Flags().Uint64Var(&f.id, "collection", 0, "collection id (or give --service and --date)")
	cmd.Flags().StringVar(&f.service, "service", "", "service id, e.g. QOF2526")
	cmd.Flags().StringVar(&f.date, "date", "", "achievement date YYYY-MM-DD")
}

func (f *collFlags) resolve(ss *session) (*domain.Collection, error) {
	var c *domain.Collection
	err := ss.store.View(func(tx *store.Tx) error {
		var err error
		switch {
		case f.id != 0:
			c, err = tx.Collection(f.id)
		case f.service != "" && f.date != "":
			d, derr := domain.ParseDate(f.date)
			if derr != nil {
				return fmt.Errorf("--date: %w", derr)
			}
			c, err = tx.CollectionFor(f.service, d)
		default:
			err = errors.New("name the collection: --collection ID, or --service ID and --date YYYY-MM-DD")
		}
		return err
	})
	return c, err
}

// withCollection runs fn in a session with the collection the flags name.
func withCollection(cmd *cobra.Command, f *collFlags, fn func(*session, *domain.Collection) error) error {
	return withSession(cmd, func(ss *session) error {
		c, err := f.resolve(ss)
		if err != nil {
			return err
		}
		return fn(ss, c)
	})
}

func optDate(flag, s string) (domain.Date, error) {
	if s == "" {
		return domain.NoDate, nil
	}
	d, err := domain.ParseDate(s)
	if err != nil {
		return domain.NoDate, fmt.Errorf("--%s: %w", flag, err)
	}
	return d, nil
}

func offerCmd() *cobra.Command {
	var service, from, to string
	var practices []string
	cmd := &cobra.Command{
		Use:   "offer --service ID [--practice CODE ...]",
		Short: "Offer a service to practices (default: all of your commissioner's practices)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withSession(cmd, func(ss *session) error {
				f, err := optDate("from", from)
				if err != nil {
					return err
				}
				t, err := optDate("to", to)
				if err != nil {
					return err
				}
				out, err := ops.Offer(ss.store, ss.actor, service, practices, f, t)
				if err != nil {
					return err
				}
				w := cmd.OutOrStdout()
				for _, o := range out {
					if o.Skipped != "" {
						fmt.Fprintf(w, "%s: skipped: %s\n", o.Practice, o.Skipped)
					} else {
						fmt.Fprintf(w, "%s: %s\n", o.Practice, o.State)
					}
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&service, "service", "", "service id (required)")
	cmd.Flags().StringSliceVar(&practices, "practice", nil, "practice code(s); default all of your commissioner's practices")
	cmd.Flags().StringVar(&from, "from", "", "first date of participation (default the service's start)")
	cmd.Flags().StringVar(&to, "to", "", "last date of participation (default the service's end)")
	_ = cmd.MarkFlagRequired("service")
	return cmd
}

func answerCmd(verb string) *cobra.Command {
	var service, practice, reason string
	short := map[string]string{
		"accept":   "Accept a service offered to a practice",
		"decline":  "Decline a service offered to a practice",
		"withdraw": "Withdraw a practice from a service (its history is kept)",
	}[verb]
	cmd := &cobra.Command{
		Use:   verb + " --service ID --practice CODE",
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withSession(cmd, func(ss *session) error {
				var err error
				switch verb {
				case "accept":
					err = ops.Accept(ss.store, ss.actor, service, practice)
				case "decline":
					err = ops.Decline(ss.store, ss.actor, service, practice, reason)
				default:
					err = ops.Withdraw(ss.store, ss.actor, service, practice, reason)
				}
				if err != nil {
					return err
				}
				done := map[string]string{"accept": "accepted", "decline": "declined", "withdraw": "withdrawn"}[verb]
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s %s\n", practice, service, done)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&service, "service", "", "service id (required)")
	cmd.Flags().StringVar(&practice, "practice", "", "practice code (required)")
	if verb != "accept" {
		cmd.Flags().StringVar(&reason, "reason", "", "why (required to withdraw)")
	}
	_ = cmd.MarkFlagRequired("service")
	_ = cmd.MarkFlagRequired("practice")
	return cmd
}

func manualCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "manual", Short: "Manual entry of values a service does not extract"}
	var cf collFlags
	var practice string
	var submit bool
	var version int64
	set := &cobra.Command{
		Use:   "set --service ID --date DATE --practice CODE IND:FIELD=VALUE ...",
		Short: "Save typed values as a draft, or submit them (--submit), which recalculates at once",
		Long: `Saves values typed by hand for a practice: the fields the service marks manual,
or any field when the practice's extract failed. Each value is IND:FIELD=VALUE, e.g.
LD001:REGISTER=42; an empty VALUE clears the field. Every value is checked and
nothing is saved if any is wrong. --submit submits the entry: the practice's
achievement is recalculated in the same step.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			values := map[domain.FieldKey]string{}
			for _, a := range args {
				k, v, ok := strings.Cut(a, "=")
				ind, field, ok2 := strings.Cut(k, ":")
				if !ok || !ok2 || ind == "" || field == "" {
					return fmt.Errorf("value %q: want IND:FIELD=VALUE, e.g. LD001:REGISTER=42", a)
				}
				values[domain.FieldKey{Indicator: strings.ToUpper(ind), Field: strings.ToUpper(field)}] = v
			}
			return withCollection(cmd, &cf, func(ss *session, c *domain.Collection) error {
				expect := uint64(version)
				if version < 0 {
					form, err := ops.ManualFormFor(ss.store, ss.actor, c.ID, practice)
					if err != nil {
						return err
					}
					expect = form.Entry.Version
				}
				m, err := ops.SaveManual(ss.store, ss.actor, c.ID, practice, values, submit, expect)
				var me ops.ManualErrors
				if errors.As(err, &me) {
					for _, e := range me {
						fmt.Fprintln(cmd.ErrOrStderr(), e.Error())
					}
					return fmt.Errorf("%d value(s) refused; nothing was saved", len(me))
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s: manual entry %s (version %d)\n", c.Label(), practice, m.State, m.Version)
				return nil
			})
		},
	}
	cf.add(set)
	set.Flags().StringVar(&practice, "practice", "", "practice code (required)")
	set.Flags().BoolVar(&submit, "submit", false, "submit the entry (default: save a draft)")
	set.Flags().Int64Var(&version, "version", -1, "the entry version you read (default: the current one)")
	_ = set.MarkFlagRequired("practice")

	var showCF collFlags
	var showPractice string
	var asJSON bool
	show := &cobra.Command{
		Use:   "show --service ID --date DATE --practice CODE",
		Short: "Show the manual entry form: fields, typed and extracted values, and whether it is open",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withCollection(cmd, &showCF, func(ss *session, c *domain.Collection) error {
				form, err := ops.ManualFormFor(ss.store, ss.actor, c.ID, showPractice)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), form)
				}
				w := cmd.OutOrStdout()
				fmt.Fprintf(w, "%s %s: manual entry %s, version %d, closes after %s\n", c.Label(), showPractice, form.Entry.State, form.Entry.Version, form.Deadline)
				if form.Closed != "" {
					fmt.Fprintln(w, "closed:", form.Closed)
				}
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "FIELD\tENTERED\tEXTRACTED\tSOURCE")
				opt := func(p *int64) string {
					if p == nil {
						return "-"
					}
					return strconv.FormatInt(*p, 10)
				}
				for _, f := range form.Fields {
					src := "manual"
					if f.Automatic {
						src = "automatic (extract failed)"
					}
					fmt.Fprintf(tw, "%s:%s\t%s\t%s\t%s\n", f.Indicator, f.Field, opt(f.Entered), opt(f.Extracted), src)
				}
				return tw.Flush()
			})
		},
	}
	showCF.add(show)
	show.Flags().StringVar(&showPractice, "practice", "", "practice code (required)")
	show.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	_ = show.MarkFlagRequired("practice")
	cmd.AddCommand(set, show)
	return cmd
}

func declareCmd() *cobra.Command {
	var cf collFlags
	var practice, hash string
	cmd := &cobra.Command{
		Use:   "declare --service ID --date DATE --practice CODE [--hash H]",
		Short: "Declare a practice's achievement: without --hash, show what would be declared and its hash",
		Long: `Without --hash, prints the figures that would be declared and their hash, and
declares nothing. Run it again with --hash to declare exactly those figures; if
they changed in between (a new extract, a manual correction) the declaration is
refused as stale, so nobody declares figures they did not see.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withCollection(cmd, &cf, func(ss *session, c *domain.Collection) error {
				if hash == "" {
					v, err := ops.ViewDeclaration(ss.store, ss.actor, c.ID, practice)
					if err != nil {
						return err
					}
					if err := writeDeclarationView(cmd.OutOrStdout(), v); err != nil {
						return err
					}
					return &exitError{code: 3, err: fmt.Errorf("nothing declared: to declare these figures run again with --hash %s", v.Declaration.InputsHash)}
				}
				if err := ops.Declare(ss.store, ss.actor, c.ID, practice, hash); err != nil {
					return err
				}
				v, err := ops.ViewDeclaration(ss.store, ss.actor, c.ID, practice)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s: declared; now %s\n", c.Label(), practice, v.Status)
				return nil
			})
		},
	}
	cf.add(cmd)
	cmd.Flags().StringVar(&practice, "practice", "", "practice code (required)")
	cmd.Flags().StringVar(&hash, "hash", "", "the hash of the figures you saw (printed without --hash)")
	_ = cmd.MarkFlagRequired("practice")
	return cmd
}

func writeDeclarationView(w io.Writer, v *ops.DeclarationView) error {
	d := v.Declaration
	fmt.Fprintf(w, "%s · %s %s · %s\n", v.Collection.Label(), d.Practice, v.PracticeName, v.Status)
	if d.Reason != "" {
		fmt.Fprintln(w, "reason:", d.Reason)
	}
	if v.Figures == nil {
		fmt.Fprintf(w, "points %s, amount %s (as financially approved; the inputs have changed since and cannot amend it)\n", d.Points, d.Amount)
		return nil
	}
	f := v.Figures
	listSize := groupInt(f.ListSize)
	if !f.ListSizeKnown {
		listSize = "not recorded"
	}
	fmt.Fprintf(w, "list size on %s: %s · payment parameters version %d\n\n", f.ListSizeDate, listSize, f.Params.Version)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	head := "INDICATOR\tVALUES\tACHIEVEMENT\tPOINTS"
	if v.MoneyShown {
		head += "\tPOUNDS"
	}
	fmt.Fprintln(tw, head+"\tNEXT POINT\tUPPER")
	vals := map[string][]string{}
	for _, x := range f.Values {
		vals[x.Indicator] = append(vals[x.Indicator], fmt.Sprintf("%s=%d", x.Field, x.Value))
	}
	for _, r := range f.Result.Indicators {
		pts := ""
		if r.PointsMax > 0 {
			pts = calc.Decimal(r.Points, 2) + "/" + strconv.Itoa(r.PointsMax)
		}
		row := fmt.Sprintf("%s\t%s\t%s\t%s", r.ID, strings.Join(vals[r.ID], " "), pct(r.Achievement), pts)
		if v.MoneyShown {
			pounds := ""
			if r.PointsMax > 0 || r.Kind == domain.IndCount {
				pounds = r.Pence.String()
			}
			row += "\t" + pounds
		}
		fmt.Fprintln(tw, row+"\t"+needed(r.NeededNextPoint)+"\t"+needed(r.NeededUpper))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\ntotal %s points", calc.Decimal(f.Result.Points, 2))
	if v.MoneyShown {
		fmt.Fprintf(w, ", %s", f.Result.Pence)
	}
	fmt.Fprintf(w, "\nhash %s\n", f.Hash)
	return nil
}

func decisionCmd(verb string) *cobra.Command {
	var cf collFlags
	var practices []string
	var hashes []string
	var reason string
	short := map[string]string{
		"approve":         "Approve declarations (one practice, or several in one bulk step)",
		"return":          "Return declarations to the practice with a reason",
		"finance-approve": "Financially approve approved declarations (after this nothing changes)",
	}[verb]
	cmd := &cobra.Command{
		Use:   verb + " --service ID --date DATE --practice CODE [--practice CODE ...]",
		Short: short,
		Long: short + `.

With several --practice flags the decisions are taken together in one step:
each is checked on its own, refused ones are listed with their reason, the
others are all recorded at once.` + map[bool]string{true: `

Without --hash, prints each declaration as it stands and its declared hash,
and decides nothing. Run it again with one --hash per --practice, in the same
order, to decide exactly what was shown; a declaration declared again in
between is refused as stale, so nobody approves figures they did not see.`}[verb != "return"],
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if verb != "return" && len(hashes) > 0 && len(hashes) != len(practices) {
				return fmt.Errorf("%d --hash for %d --practice: give one hash per practice, in the same order", len(hashes), len(practices))
			}
			return withCollection(cmd, &cf, func(ss *session, c *domain.Collection) error {
				w := cmd.OutOrStdout()
				if verb != "return" && len(hashes) == 0 {
					var again, undeclared []string
					for _, p := range practices {
						v, err := ops.ViewDeclaration(ss.store, ss.actor, c.ID, p)
						if err != nil {
							return err
						}
						if err := writeDeclarationView(w, v); err != nil {
							return err
						}
						// Nothing declared: no declared hash to review, so
						// no command line to offer for it.
						if v.Declaration.DeclaredHash == "" {
							fmt.Fprintf(w, "not declared by the practice: nothing to %s\n\n", verb)
							undeclared = append(undeclared, p)
							continue
						}
						fmt.Fprintf(w, "declared hash %s\n\n", v.Declaration.DeclaredHash)
						again = append(again, "--practice "+p+" --hash "+v.Declaration.DeclaredHash)
					}
					msg := "nothing decided"
					if len(undeclared) > 0 {
						msg += fmt.Sprintf("; not declared by the practice: %s", strings.Join(undeclared, ", "))
					}
					if len(again) > 0 {
						msg += fmt.Sprintf("; to %s as shown run again with %s", verb, strings.Join(again, " "))
					}
					return &exitError{code: 3, err: errors.New(msg)}
				}
				var err error
				if len(practices) == 1 {
					switch verb {
					case "approve":
						err = ops.Approve(ss.store, ss.actor, c.ID, practices[0], hashes[0])
					case "return":
						err = ops.Return(ss.store, ss.actor, c.ID, practices[0], reason)
					default:
						err = ops.FinanceApprove(ss.store, ss.actor, c.ID, practices[0], hashes[0])
					}
					if err != nil {
						return err
					}
					fmt.Fprintf(w, "%s %s: %s done\n", c.Label(), practices[0], verb)
					return nil
				}
				refs := make([]ops.DeclRef, len(practices))
				for i, p := range practices {
					refs[i] = ops.DeclRef{Collection: c.ID, Practice: p}
					if verb != "return" {
						refs[i].Seen = hashes[i]
					}
				}
				var res []ops.BulkResult
				switch verb {
				case "approve":
					res, err = ops.ApproveMany(ss.store, ss.actor, refs)
				case "return":
					res, err = ops.ReturnMany(ss.store, ss.actor, refs, reason)
				default:
					res, err = ops.FinanceApproveMany(ss.store, ss.actor, refs)
				}
				if err != nil {
					return err
				}
				refused := 0
				for _, r := range res {
					if r.Err != nil {
						refused++
						fmt.Fprintf(w, "%s: refused: %s\n", r.Ref.Practice, r.Error)
					} else {
						fmt.Fprintf(w, "%s: %s\n", r.Ref.Practice, domain.DeclarationTitle(r.State))
					}
				}
				if refused > 0 {
					return &exitError{code: 4, err: fmt.Errorf("%d of %d refused; the others were recorded", refused, len(res))}
				}
				return nil
			})
		},
	}
	cf.add(cmd)
	cmd.Flags().StringSliceVar(&practices, "practice", nil, "practice code(s) (required)")
	if verb == "return" {
		cmd.Flags().StringVar(&reason, "reason", "", "why it is returned; the practice sees it (required)")
	} else {
		cmd.Flags().StringSliceVar(&hashes, "hash", nil, "the declared hash you reviewed, one per --practice in order (printed without --hash; refused if declared again since)")
	}
	_ = cmd.MarkFlagRequired("practice")
	return cmd
}

func queueCmd() *cobra.Command {
	var state, service, practice string
	var coll uint64
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "queue",
		Short: "Declarations awaiting you (approval or finance approval), or filtered by --state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withSession(cmd, func(ss *session) error {
				if state != "" && !knownState(domain.State(state)) {
					return fmt.Errorf("--state %q: want one of %s", state, statesText())
				}
				items, err := ops.Queue(ss.store, ss.actor, ops.QueueFilter{State: domain.State(state), Service: service, Collection: coll, Practice: practice})
				if err != nil {
					return err
				}
				if asJSON {
					if items == nil {
						items = []ops.QueueItem{}
					}
					return writeJSON(cmd.OutOrStdout(), items)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "COLLECTION\tSERVICE\tACH DATE\tPRACTICE\tNAME\tSTATUS\tPOINTS\tAMOUNT\tDECLARED BY\tAPPROVE BY")
				for _, it := range items {
					amount := "-"
					if it.MoneyShown {
						amount = it.Amount.String()
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", it.Ref.Collection, it.Service, it.AchDate, it.Ref.Practice,
						it.PracticeName, it.Status, it.Points, amount, it.DeclaredBy, it.Deadline)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&state, "state", "", "only declarations in this state: "+statesText())
	cmd.Flags().StringVar(&service, "service", "", "only this service")
	cmd.Flags().Uint64Var(&coll, "collection", 0, "only this collection id")
	cmd.Flags().StringVar(&practice, "practice", "", "only this practice")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func knownState(s domain.State) bool {
	for _, x := range domain.DeclarationMachine.States {
		if x == s {
			return true
		}
	}
	return false
}

func statesText() string {
	var s []string
	for _, x := range domain.DeclarationMachine.States {
		s = append(s, string(x))
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
}

func deadlineCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "deadline", Short: "Collection deadlines"}
	var cf collFlags
	var which, to, reason string
	extend := &cobra.Command{
		Use:   "extend --service ID --date DATE --which declaration|approval --to YYYY-MM-DD --reason TEXT",
		Short: "Extend a collection's declaration or approval deadline (audited)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withCollection(cmd, &cf, func(ss *session, c *domain.Collection) error {
				d, err := domain.ParseDate(to)
				if err != nil {
					return fmt.Errorf("--to: %w", err)
				}
				if err := ops.ExtendDeadline(ss.store, ss.actor, c.ID, which, d, reason); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s deadline now %s\n", c.Label(), which, d)
				return nil
			})
		},
	}
	cf.add(extend)
	extend.Flags().StringVar(&which, "which", ops.DeadlineDeclaration, "declaration or approval")
	extend.Flags().StringVar(&to, "to", "", "the new deadline (required)")
	extend.Flags().StringVar(&reason, "reason", "", "why (required; audited)")
	_ = extend.MarkFlagRequired("to")
	_ = extend.MarkFlagRequired("reason")
	cmd.AddCommand(extend)
	return cmd
}

func recalcCmd() *cobra.Command {
	var service, reason string
	cmd := &cobra.Command{
		Use:   "recalc --service ID --reason TEXT",
		Short: "Recalculate every participating practice of a service now (refused if a financially approved figure would change)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withSession(cmd, func(ss *session) error {
				sum, err := ops.RecalculateService(ss.store, ss.actor, service, reason)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %d declarations changed, %d unchanged\n", service, sum.Changed, sum.Unchanged)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&service, "service", "", "service id (required)")
	cmd.Flags().StringVar(&reason, "reason", "", "why; shown to practices whose figures change (required)")
	_ = cmd.MarkFlagRequired("service")
	_ = cmd.MarkFlagRequired("reason")
	return cmd
}
