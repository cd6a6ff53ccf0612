package hooks

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"
	"github.com/spf13/cast"
)

// Dates outside these years are typing mistakes or broken device clocks.
const (
	minYear = 1900
	maxYear = 2200
)

// checkBodyTypes refuses values PocketBase would silently coerce: text in a
// number field ("north" would become 0), an unparsable date (it would become
// empty), a non-boolean flag. Numeric and boolean strings stay accepted, as
// multipart forms send everything as text.
func checkBodyTypes(collection *core.Collection, body map[string]any) error {
	errs := validation.Errors{}
	for name, value := range body {
		field := collection.Fields.GetByName(name)
		if field == nil || value == nil {
			continue
		}
		if msg := typeProblem(field, value); msg != "" {
			errs[name] = validation.NewError("validation_invalid_type", msg)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return router.NewBadRequestError("Some fields have values of the wrong type.", errs)
}

func typeProblem(field core.Field, value any) string {
	switch field.(type) {
	case *core.NumberField:
		switch v := value.(type) {
		case float64:
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return "must be a finite number"
			}
			return ""
		case int, int64:
			return ""
		case string:
			if v == "" {
				return ""
			}
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
				return ""
			}
		}
		return fmt.Sprintf("must be a number, got %s", describe(value))
	case *core.BoolField:
		switch v := value.(type) {
		case bool:
			return ""
		case string:
			if _, err := strconv.ParseBool(v); err == nil || v == "" {
				return ""
			}
		}
		return fmt.Sprintf("must be true or false, got %s", describe(value))
	case *core.DateField:
		s, ok := value.(string)
		if !ok {
			return fmt.Sprintf("must be a date such as \"2026-03-02 10:00:00.000Z\", got %s", describe(value))
		}
		if s == "" {
			return ""
		}
		t, err := cast.ToTimeE(s)
		if err != nil {
			return fmt.Sprintf("%q is not a date; use a form such as \"2026-03-02 10:00:00.000Z\"", s)
		}
		if y := t.UTC().Year(); y < minYear || y > maxYear {
			return fmt.Sprintf("%s is outside the years %d-%d", t.UTC().Format(time.DateOnly), minYear, maxYear)
		}
	case *core.TextField, *core.EmailField, *core.SelectField, *core.RelationField:
		switch value.(type) {
		case string, []any, []string:
			return ""
		}
		return fmt.Sprintf("must be text, got %s", describe(value))
	}
	return ""
}

func describe(v any) string {
	switch x := v.(type) {
	case string:
		if len(x) > 40 {
			x = x[:40] + "..."
		}
		return strconv.Quote(x)
	case bool:
		return "a boolean"
	case float64, int, int64:
		return "a number"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	}
	return fmt.Sprintf("%T", v)
}
