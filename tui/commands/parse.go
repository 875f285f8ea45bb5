// Package commands is the SSH session path without a terminal: a person or
// a script runs `ssh gpc timetable --json`, gets text or JSON on stdout, a
// message on stderr and an exit status. Every command reads through the same
// policy (domain.Authorize) as the screens and the command line.
package commands

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"gpcollections/domain"
	"gpcollections/store/ops"
)

// Exit statuses, as documented in Usage.
const (
	StatusOK      = 0
	StatusFailed  = 1 // the command could not be done (not found, bad data)
	StatusUsage   = 2 // the command line was not understood
	StatusRefused = 3 // the policy refused the signed-in user
)

// Limits on a command line from the network.
const (
	maxLine = 4096
	maxArgs = 64
)

// Usage is printed for help and after a usage error.
const Usage = `usage: ssh [-p PORT] HOST COMMAND [FLAGS]

commands:
  whoami                                   who you are signed in as, and your roles
  timetable [--service ID] [--status S]    collections, their windows and deadlines
  achievement --service ID --date YYYY-MM-DD [--practice CODE]
                                           a practice's values, achievement and points
  queue                                    declarations waiting for your approval
  export --service ID --date YYYY-MM-DD [--status approved|all]
                                           INDICATOR_VALUES rows for data provision (CSV)
  backup                                   (administrators) a consistent copy of the live data
                                           file on stdout: ssh -T HOST backup > gpc-backup.db

timetable administration (changes are audited; --reason says why):
  timetable add --service ID --ach YYYY-MM-DD [DATES] [--reason TEXT]
                                           add a collection (the service's default dates unless given)
  timetable reschedule ID [DATES] [--reason TEXT]
                                           move a collection's window or deadlines
  timetable cancel ID [--reason TEXT]      cancel a scheduled or extracting collection
  timetable reopen ID [--reason TEXT]      reopen a cancelled or closed collection
      DATES: --opens --closes --declare-by --approve-by --pay-on, each YYYY-MM-DD
  payments run --period YYYY-MM            pay what is payable in the period; the payment
                                           instruction CSV on stdout, the summary on stderr:
                                           ssh -T HOST payments run --period 2026-05 > pay.csv
                                           (running a period again pays nothing twice)
  help                                     this text

every command takes --json for machine-readable output.
exit status: 0 done, 1 failed, 2 usage error, 3 refused by the access policy.
connect with a terminal (no command) for the full-screen interface.
`

// Command is a parsed command line.
type Command struct {
	Name     string // "timetable add", "payments run": verb words joined by a space
	JSON     bool
	Service  string
	Date     domain.Date
	Practice string
	Status   string
	ID       uint64         // the collection of reschedule, cancel, reopen
	Dates    ops.DateChange // add and reschedule
	Reason   string
	Period   string // payments run
}

// verbs are the commands that take a second word.
var verbs = map[string][]string{
	"timetable": {"add", "reschedule", "cancel", "reopen"},
	"payments":  {"run"},
}

// UsageError is a command line that was not understood.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func usagef(format string, a ...any) error { return &UsageError{Msg: fmt.Sprintf(format, a...)} }

// Split breaks a raw SSH command line into words, shell-style: blanks
// separate words, 'single quotes' are literal, "double quotes" allow \" and
// \\, and a backslash outside quotes escapes the next character. Unlike a
// lenient splitter it reports unbalanced quotes, so a mistyped command is
// refused rather than run with different arguments.
func Split(raw string) ([]string, error) {
	if len(raw) > maxLine {
		return nil, usagef("command line is %d bytes; at most %d", len(raw), maxLine)
	}
	if !utf8.ValidString(raw) {
		return nil, usagef("command line is not valid UTF-8")
	}
	// No control characters anywhere, quoted or escaped: only blanks
	// separate words.
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; (c < 0x20 && c != ' ' && c != '\t' && c != '\n' && c != '\r') || c == 0x7f {
			return nil, usagef("control character 0x%02x at byte %d", c, i+1)
		}
	}
	var (
		words []string
		cur   strings.Builder
		in    bool // inside a word
	)
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		case c == '\'':
			j := strings.IndexByte(raw[i+1:], '\'')
			if j < 0 {
				return nil, usagef("unterminated ' quote at byte %d", i+1)
			}
			cur.WriteString(raw[i+1 : i+1+j])
			i += j + 1
			in = true
		case c == '"':
			i++
			for ; i < len(raw) && raw[i] != '"'; i++ {
				if raw[i] == '\\' && i+1 < len(raw) && (raw[i+1] == '"' || raw[i+1] == '\\') {
					i++
				}
				cur.WriteByte(raw[i])
			}
			if i >= len(raw) {
				return nil, usagef("unterminated \" quote")
			}
			in = true
		case c == '\\':
			if i+1 >= len(raw) {
				return nil, usagef("command line ends with a backslash")
			}
			i++
			cur.WriteByte(raw[i])
			in = true
		default:
			cur.WriteByte(c)
			in = true
		}
		if len(words) > maxArgs {
			return nil, usagef("more than %d words", maxArgs)
		}
	}
	if in {
		words = append(words, cur.String())
	}
	if len(words) > maxArgs {
		return nil, usagef("more than %d words", maxArgs)
	}
	for i, w := range words {
		if strings.ContainsAny(w, "\t\n\r") {
			return nil, usagef("word %d holds a tab or line break", i+1)
		}
	}
	return words, nil
}

// Parse reads a command from its words.
func Parse(args []string) (Command, error) {
	if len(args) == 0 {
		return Command{}, usagef("no command given")
	}
	c := Command{Name: args[0]}
	rest := args[1:]
	if vs, ok := verbs[c.Name]; ok && len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		if !slices.Contains(vs, rest[0]) {
			return Command{}, usagef("%s: unknown action %q (want %s)", c.Name, clip(rest[0]), strings.Join(vs, ", "))
		}
		c.Name += " " + rest[0]
		rest = rest[1:]
	}
	// reschedule, cancel and reopen name the collection first.
	switch c.Name {
	case "timetable reschedule", "timetable cancel", "timetable reopen":
		if len(rest) == 0 || strings.HasPrefix(rest[0], "-") {
			return Command{}, usagef("%s: name the collection by its ID, as timetable lists it", c.Name)
		}
		id, err := strconv.ParseUint(rest[0], 10, 64)
		if err != nil || id == 0 {
			return Command{}, usagef("%s: collection ID %q: want a number, as timetable lists it", c.Name, clip(rest[0]))
		}
		c.ID, rest = id, rest[1:]
	}
	fs := flag.NewFlagSet(c.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.BoolVar(&c.JSON, "json", false, "")
	var date string
	var dates ops.DateFlags
	dateFlags := func() {
		fs.StringVar(&dates.Opens, "opens", "", "")
		fs.StringVar(&dates.Closes, "closes", "", "")
		fs.StringVar(&dates.DeclareBy, "declare-by", "", "")
		fs.StringVar(&dates.ApproveBy, "approve-by", "", "")
		fs.StringVar(&dates.PayOn, "pay-on", "", "")
	}
	switch c.Name {
	case "help", "whoami", "queue", "backup":
	case "timetable":
		fs.StringVar(&c.Service, "service", "", "")
		fs.StringVar(&c.Status, "status", "", "")
	case "timetable add":
		fs.StringVar(&c.Service, "service", "", "")
		fs.StringVar(&date, "ach", "", "")
		fs.StringVar(&c.Reason, "reason", "", "")
		dateFlags()
	case "timetable reschedule":
		fs.StringVar(&c.Reason, "reason", "", "")
		dateFlags()
	case "timetable cancel", "timetable reopen":
		fs.StringVar(&c.Reason, "reason", "", "")
	case "payments run":
		fs.StringVar(&c.Period, "period", "", "")
	case "payments":
		return Command{}, usagef("payments: say what to do: payments run --period YYYY-MM")
	case "achievement":
		fs.StringVar(&c.Service, "service", "", "")
		fs.StringVar(&date, "date", "", "")
		fs.StringVar(&c.Practice, "practice", "", "")
	case "export":
		fs.StringVar(&c.Service, "service", "", "")
		fs.StringVar(&date, "date", "", "")
		fs.StringVar(&c.Status, "status", "approved", "")
	default:
		return Command{}, usagef("unknown command %q", clip(c.Name))
	}
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Command{Name: "help"}, nil
		}
		return Command{}, usagef("%s: %s", c.Name, clip(err.Error()))
	}
	if fs.NArg() > 0 {
		return Command{}, usagef("%s: unexpected argument %q", c.Name, clip(fs.Arg(0)))
	}
	need := func(v, flag string) error {
		if v == "" {
			return usagef("%s: --%s is required", c.Name, flag)
		}
		return nil
	}
	// serviceDate reads the --service and the date flag named.
	serviceDate := func(flag string) error {
		if err := need(c.Service, "service"); err != nil {
			return err
		}
		if err := need(date, flag); err != nil {
			return err
		}
		d, err := domain.ParseDate(date)
		if err != nil {
			return usagef("%s: --%s: %s", c.Name, flag, clip(err.Error()))
		}
		c.Date = d
		return nil
	}
	var err error
	switch c.Name {
	case "achievement", "export":
		err = serviceDate("date")
	case "timetable add":
		err = serviceDate("ach")
	case "payments run":
		if err = need(c.Period, "period"); err == nil {
			if _, perr := domain.ParsePeriod(c.Period); perr != nil {
				err = usagef("%s: --period: %s", c.Name, clip(perr.Error()))
			}
		}
	}
	if err != nil {
		return Command{}, err
	}
	if c.Name == "timetable add" || c.Name == "timetable reschedule" {
		ch, err := dates.Change()
		if err != nil {
			return Command{}, usagef("%s: %s", c.Name, clip(err.Error()))
		}
		c.Dates = ch
	}
	if c.Practice != "" {
		if err := domain.ValidateOrgCode(domain.OrgPractice, c.Practice); err != nil {
			return Command{}, usagef("%s: --practice: %s", c.Name, clip(err.Error()))
		}
	}
	if c.Name == "export" && c.Status != "approved" && c.Status != "all" {
		return Command{}, usagef("export: --status %q: want approved or all", clip(c.Status))
	}
	if c.Name == "timetable" && c.Status != "" {
		if !knows(domain.CollectionMachine, domain.State(c.Status)) {
			return Command{}, usagef("timetable: --status %q: want one of %s", clip(c.Status), states(domain.CollectionMachine))
		}
	}
	return c, nil
}

func knows(m *domain.Machine, s domain.State) bool {
	for _, x := range m.States {
		if x == s {
			return true
		}
	}
	return false
}

func states(m *domain.Machine) string {
	var s []string
	for _, x := range m.States {
		s = append(s, string(x))
	}
	return strings.Join(s, ", ")
}

// clip keeps echoed input short and printable.
func clip(s string) string {
	r := []rune(strings.ToValidUTF8(s, "?"))
	if len(r) > 80 {
		r = append(r[:77], '.', '.', '.')
	}
	for i, c := range r {
		if c < 0x20 || c == 0x7f {
			r[i] = '?'
		}
	}
	return string(r)
}
