package calc

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"gpcollections/domain"
)

// ValuesHeader is the INDICATOR_VALUES CSV header, as `gpc extract` writes it.
var ValuesHeader = []string{"QUALITY_SERVICE", "ORG_CODE", "ACH_DATE", "IND_CODE", "FIELD_NAME", "VALUE"}

// ReadValues reads INDICATOR_VALUES rows from CSV. lines[i] is the file line
// of rows[i], so later checks (a RowError's Index) can name the line too.
// Errors name the line and the column. A UTF-8 byte order mark, as
// spreadsheets write, is ignored.
func ReadValues(r io.Reader) (rows []domain.IndicatorValue, lines []int, err error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(ValuesHeader)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, nil, fmt.Errorf("line 1: empty file, want the header %s", strings.Join(ValuesHeader, ","))
	}
	if err != nil {
		return nil, nil, csvError(err)
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	for i, h := range ValuesHeader {
		if strings.TrimSpace(header[i]) != h {
			return nil, nil, fmt.Errorf("line 1: header column %d is %q, want %s", i+1, header[i], strings.Join(ValuesHeader, ","))
		}
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return rows, lines, nil
		}
		if err != nil {
			return nil, nil, csvError(err)
		}
		line, _ := cr.FieldPos(0)
		v := domain.IndicatorValue{
			Service: strings.TrimSpace(rec[0]), Practice: strings.TrimSpace(rec[1]),
			Indicator: strings.TrimSpace(rec[3]), Field: strings.TrimSpace(rec[4]),
		}
		for _, col := range []int{0, 1, 3, 4} { // the names; date and value are parsed below
			if strings.TrimSpace(rec[col]) == "" {
				return nil, nil, fmt.Errorf("line %d: %s is empty", line, ValuesHeader[col])
			}
		}
		if v.AchDate, err = domain.ParseDate(strings.TrimSpace(rec[2])); err != nil {
			return nil, nil, fmt.Errorf("line %d: ACH_DATE: %v", line, err)
		}
		if v.Value, err = strconv.ParseInt(strings.TrimSpace(rec[5]), 10, 64); err != nil {
			return nil, nil, fmt.Errorf("line %d: VALUE %q is not a whole number", line, rec[5])
		}
		rows = append(rows, v)
		lines = append(lines, line)
	}
}

func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) && pe.StartLine != pe.Line {
		return fmt.Errorf("line %d (in the record from line %d): %v", pe.Line, pe.StartLine, pe.Err)
	}
	if errors.As(err, &pe) {
		return fmt.Errorf("line %d: %v", pe.Line, pe.Err)
	}
	return err
}
