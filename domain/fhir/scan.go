package fhir

import (
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// scanner is a strict JSON scanner over one NDJSON line. It validates the
// whole line as JSON but only extracts the few fields the importer needs,
// without building a tree: that is what makes the importer fast. Errors are
// sticky: the first one is kept and every later call fails fast.
type scanner struct {
	b   []byte
	i   int
	err string
}

// maxDepth bounds nesting so that a hostile line cannot recurse without end.
const maxDepth = 64

func (s *scanner) reset(b []byte) {
	s.b, s.i, s.err = b, 0, ""
}

func (s *scanner) fail(msg string) {
	if s.err == "" {
		s.err = msg
	}
}

func (s *scanner) ok() bool { return s.err == "" }

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// open consumes c ('{' or '['); the parts of what name the value for the
// error, joined only when there is one.
func (s *scanner) open(c byte, what ...string) bool {
	if !s.ok() {
		return false
	}
	if s.peek() != c {
		if c == '{' {
			s.fail(strings.Join(what, "") + " is not an object")
		} else {
			s.fail(strings.Join(what, "") + " is not an array")
		}
		return false
	}
	s.i++
	return true
}

// key returns the next key of an object opened with open, or false at its
// closing brace (or on error). first must start true for each object.
func (s *scanner) key(first *bool) ([]byte, bool) {
	if !s.ok() {
		return nil, false
	}
	c := s.peek()
	if c == '}' {
		s.i++
		return nil, false
	}
	if !*first {
		if c != ',' {
			s.fail(s.unexpected("',' or '}' in an object"))
			return nil, false
		}
		s.i++
		s.ws()
	}
	*first = false
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		s.fail(s.unexpected("an object key"))
		return nil, false
	}
	k := s.str()
	if s.peek() != ':' {
		s.fail(s.unexpected("':' after an object key"))
		return nil, false
	}
	s.i++
	return k, s.ok()
}

// elem reports whether an array opened with open has another element.
func (s *scanner) elem(first *bool) bool {
	if !s.ok() {
		return false
	}
	c := s.peek()
	if c == ']' {
		s.i++
		return false
	}
	if !*first {
		if c != ',' {
			s.fail(s.unexpected("',' or ']' in an array"))
			return false
		}
		s.i++
	}
	*first = false
	return true
}

func (s *scanner) unexpected(want string) string {
	if s.i >= len(s.b) {
		return "malformed JSON: line ends where " + want + " was expected"
	}
	return "malformed JSON at byte " + itoa(s.i+1) + ": expected " + want
}

// strField reads a string value; what names the field for the error.
func (s *scanner) strField(what ...string) []byte {
	if !s.ok() {
		return nil
	}
	if s.peek() != '"' {
		s.fail(strings.Join(what, "") + " is not a string")
		return nil
	}
	return s.str()
}

// str reads a string at s.i (which is '"'). Without escapes it returns a
// slice of the line; with escapes a decoded copy.
func (s *scanner) str() []byte {
	start := s.i + 1
	for j := start; j < len(s.b); j++ {
		c := s.b[j]
		if c == '"' {
			s.i = j + 1
			return s.b[start:j]
		}
		if c == '\\' {
			return s.strEscaped(start, j)
		}
		if c < 0x20 {
			s.fail("malformed JSON at byte " + itoa(j+1) + ": control character in a string")
			return nil
		}
	}
	s.fail("malformed JSON: unterminated string")
	return nil
}

func (s *scanner) strEscaped(start, j int) []byte {
	out := append([]byte(nil), s.b[start:j]...)
	for j < len(s.b) {
		c := s.b[j]
		switch {
		case c == '"':
			s.i = j + 1
			return out
		case c < 0x20:
			s.fail("malformed JSON at byte " + itoa(j+1) + ": control character in a string")
			return nil
		case c != '\\':
			out = append(out, c)
			j++
			continue
		}
		if j+1 >= len(s.b) {
			break
		}
		e := s.b[j+1]
		j += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(s.b, j)
			if !ok {
				s.fail("malformed JSON at byte " + itoa(j) + ": bad \\u escape")
				return nil
			}
			j += 4
			if utf16.IsSurrogate(r) {
				// A valid pair decodes to one rune; a lone half becomes
				// U+FFFD, as encoding/json does.
				if j+6 <= len(s.b) && s.b[j] == '\\' && s.b[j+1] == 'u' {
					if r2, ok := hex4(s.b, j+2); ok {
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							j += 6
							r = d
						} else {
							r = utf8.RuneError
						}
					} else {
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			s.fail("malformed JSON at byte " + itoa(j) + ": bad escape in a string")
			return nil
		}
	}
	s.fail("malformed JSON: unterminated string")
	return nil
}

func hex4(b []byte, j int) (rune, bool) {
	if j+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[j : j+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// numField reads a JSON number and returns its text.
func (s *scanner) numField(what ...string) []byte {
	if !s.ok() {
		return nil
	}
	c := s.peek()
	if c != '-' && (c < '0' || c > '9') {
		s.fail(strings.Join(what, "") + " is not a number")
		return nil
	}
	return s.num()
}

// num validates the JSON number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) num() []byte {
	b, start := s.b, s.i
	j := start
	if j < len(b) && b[j] == '-' {
		j++
	}
	digits := func() int {
		k := j
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		return j - k
	}
	bad := func() []byte {
		s.fail("malformed JSON at byte " + itoa(start+1) + ": bad number")
		return nil
	}
	if j < len(b) && b[j] == '0' {
		j++
		if j < len(b) && b[j] >= '0' && b[j] <= '9' {
			return bad()
		}
	} else if digits() == 0 {
		return bad()
	}
	if j < len(b) && b[j] == '.' {
		j++
		if digits() == 0 {
			return bad()
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		if digits() == 0 {
			return bad()
		}
	}
	s.i = j
	return b[start:j]
}

// boolField reads true or false.
func (s *scanner) boolField(what ...string) (v, ok bool) {
	if !s.ok() {
		return false, false
	}
	switch s.peek() {
	case 't':
		return true, s.lit("true")
	case 'f':
		return false, s.lit("false")
	}
	s.fail(strings.Join(what, "") + " is not a boolean")
	return false, false
}

func (s *scanner) lit(w string) bool {
	if len(s.b)-s.i < len(w) || string(s.b[s.i:s.i+len(w)]) != w {
		s.fail("malformed JSON at byte " + itoa(s.i+1) + ": bad literal")
		return false
	}
	s.i += len(w)
	return true
}

// skip validates and passes over one value of any type.
func (s *scanner) skip(depth int) {
	if !s.ok() {
		return
	}
	if depth > maxDepth {
		s.fail("malformed JSON: nested more than " + itoa(maxDepth) + " deep")
		return
	}
	switch c := s.peek(); {
	case c == '{':
		s.i++
		first := true
		for _, more := s.key(&first); more; _, more = s.key(&first) {
			s.skip(depth + 1)
		}
	case c == '[':
		s.i++
		first := true
		for s.elem(&first) {
			s.skip(depth + 1)
		}
	case c == '"':
		s.skipStr()
	case c == '-' || (c >= '0' && c <= '9'):
		s.num()
	case c == 't':
		s.lit("true")
	case c == 'f':
		s.lit("false")
	case c == 'n':
		s.lit("null")
	default:
		s.fail(s.unexpected("a value"))
	}
}

// skipStr validates a string without decoding it.
func (s *scanner) skipStr() {
	b := s.b
	for j := s.i + 1; j < len(b); j++ {
		c := b[j]
		switch {
		case c == '"':
			s.i = j + 1
			return
		case c < 0x20:
			s.fail("malformed JSON at byte " + itoa(j+1) + ": control character in a string")
			return
		case c == '\\':
			if j+1 >= len(b) {
				break
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j++
			case 'u':
				if _, ok := hex4(b, j+2); !ok {
					s.fail("malformed JSON at byte " + itoa(j+1) + ": bad \\u escape")
					return
				}
				j += 5
			default:
				s.fail("malformed JSON at byte " + itoa(j+1) + ": bad escape in a string")
				return
			}
		}
	}
	s.fail("malformed JSON: unterminated string")
}

// end checks that nothing but space follows the value.
func (s *scanner) end() {
	if s.ok() && s.peek() != 0 {
		s.fail("malformed JSON at byte " + itoa(s.i+1) + ": data after the resource")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
