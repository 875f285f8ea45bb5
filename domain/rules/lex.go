package rules

import (
	"fmt"
	"strings"
)

type tokKind uint8

const (
	tIdent tokKind = iota + 1
	tNumber
	tDuration // 12m, 7d, 5y, 2w
	tDate     // 2026-03-31
	tPercent  // 7.5%
	tString
	tOp // < <= > >= = != ( ) , . + -
)

type token struct {
	kind tokKind
	text string
	line int
}

func (t token) String() string {
	if t.kind == tString {
		return fmt.Sprintf("%q", t.text)
	}
	return t.text
}

// logicalLine is one statement: a physical line plus its continuation
// lines (a line starting with and / or / then / else, or any line while a
// parenthesis is open), so long conditions can be laid out readably.
type logicalLine struct {
	line int
	toks []token
	text string
}

// lexFile splits a rule file into logical lines of tokens.
func lexFile(file string, src string) ([]logicalLine, error) {
	var out []logicalLine
	depth := 0
	for i, raw := range strings.Split(src, "\n") {
		n := i + 1
		toks, err := lexLine(raw, n)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", file, n, err)
		}
		if len(toks) == 0 {
			continue
		}
		cont := depth > 0
		if toks[0].kind == tIdent {
			switch toks[0].text {
			case "and", "or", "then", "else":
				cont = true
			}
		}
		if cont && len(out) > 0 {
			last := &out[len(out)-1]
			last.toks = append(last.toks, toks...)
			last.text += " " + strings.TrimSpace(stripComment(raw))
		} else {
			out = append(out, logicalLine{line: n, toks: toks, text: strings.TrimSpace(stripComment(raw))})
		}
		for _, t := range toks {
			if t.kind == tOp && t.text == "(" {
				depth++
			} else if t.kind == tOp && t.text == ")" && depth > 0 {
				depth--
			}
		}
	}
	if depth > 0 && len(out) > 0 {
		return nil, fmt.Errorf("%s:%d: unclosed parenthesis", file, out[len(out)-1].line)
	}
	return out, nil
}

func stripComment(s string) string {
	in := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			in = !in
		case '#':
			if !in {
				return s[:i]
			}
		}
	}
	return s
}

func isWordByte(c byte) bool {
	return c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func lexLine(s string, line int) ([]token, error) {
	var toks []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '#':
			return toks, nil
		case c == '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return nil, fmt.Errorf("unterminated string")
			}
			toks = append(toks, token{tString, s[i+1 : i+1+j], line})
			i += j + 2
		case isWordByte(c):
			j := i
			for j < len(s) && isWordByte(s[j]) {
				j++
				// lower-case keywords may be hyphenated: auto-accept,
				// pence-per-point, item-of-service (PPED-12m is not: a
				// digit follows its hyphen).
				if j+1 < len(s) && s[j] == '-' && s[j+1] >= 'a' && s[j+1] <= 'z' && s[i] >= 'a' && s[i] <= 'z' {
					j++
				}
			}
			w := s[i:j]
			switch {
			case len(w) == 4 && isDigits(w) && dateTail(s[j:]):
				toks = append(toks, token{tDate, s[i : j+6], line})
				j += 6
			case isDigits(w):
				// a decimal part and an optional percent sign
				if j+1 < len(s) && s[j] == '.' && s[j+1] >= '0' && s[j+1] <= '9' {
					k := j + 1
					for k < len(s) && s[k] >= '0' && s[k] <= '9' {
						k++
					}
					w = s[i:k]
					j = k
				}
				if j < len(s) && s[j] == '%' {
					toks = append(toks, token{tPercent, w, line})
					j++
				} else {
					toks = append(toks, token{tNumber, w, line})
				}
			case len(w) >= 2 && isDigits(w[:len(w)-1]) && strings.IndexByte("dwmy", w[len(w)-1]) >= 0:
				toks = append(toks, token{tDuration, w, line})
			default:
				toks = append(toks, token{tIdent, w, line})
			}
			i = j
		default:
			two := ""
			if i+1 < len(s) {
				two = s[i : i+2]
			}
			switch {
			case two == "<=" || two == ">=" || two == "!=":
				toks = append(toks, token{tOp, two, line})
				i += 2
			case strings.IndexByte("<>=(),.+-:", c) >= 0:
				toks = append(toks, token{tOp, string(c), line})
				i++
			default:
				return nil, fmt.Errorf("unexpected character %q", c)
			}
		}
	}
	return toks, nil
}

// dateTail reports whether s starts with "-MM-DD" ending a word, completing
// a YYYY-MM-DD date (so PPED-12m and 2026-03-31 lex differently).
func dateTail(s string) bool {
	return len(s) >= 6 && s[0] == '-' && isDigits(s[1:3]) && s[3] == '-' && isDigits(s[4:6]) &&
		(len(s) == 6 || !isWordByte(s[6]))
}
