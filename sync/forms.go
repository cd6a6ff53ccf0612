package sync

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"

	"rounds/crm"
	"rounds/policy"
)

// The wire format's words: what value each column takes, said once, from
// the column (sync.Tables) and its PocketBase field. The push's refusals,
// the protocol document's tables and the tests read them here.

// Dates on the wire are epoch milliseconds in [MinDate, MaxDate): a value
// outside is refused as a likely unit mistake (seconds for milliseconds).
var (
	MinDate = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxDate = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// patternForms are the patterns of Rounds' text fields, in words.
var patternForms = map[string]string{
	`^[A-Z]{3}$`: "three capital letters, such as EUR",
	`^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$`: "a day of the year as MM-DD, such as 02-29",
	`^([01][0-9]|2[0-3]):[0-5][0-9]$`:            "a time of day as HH:MM, such as 21:30",
	`^[0-9+()./ -]*$`:                            "digits, spaces and + ( ) . / -, such as +49 30 1234567",
}

// Form says in words what value column c takes on the wire; f is its
// PocketBase field (nil when the collection lacks it).
func Form(c Column, f core.Field) string {
	var form string
	switch c.Kind {
	case Date:
		switch {
		case c.stamp():
			form = "epoch milliseconds; any value is taken (0, or one outside the years 2000-2200, counts as unknown)"
		case c.Required:
			form = "epoch milliseconds (not seconds) between the years 2000 and 2200"
		default:
			form = "epoch milliseconds (not seconds) between the years 2000 and 2200, or null"
		}
	case Bool:
		form = "true or false"
	case Relation:
		target := c.Name
		if name := policy.Relations[c.Name]; name != "" {
			target = nouns[name]
		}
		form = "the id of " + article(target) + " " + target
		if !c.Required {
			form += ", or null"
		}
	case Number:
		form = numberForm(f)
	default:
		form = textForm(f)
	}
	if c.Name == "timezone" {
		form = "an IANA time zone, such as Europe/Berlin, or empty"
	}
	return form
}

// nouns name one record of a collection a relation points at.
var nouns = map[string]string{
	crm.Users: "user", crm.Customers: "customer", crm.Contacts: "contact", crm.Visits: "visit", crm.Orders: "order",
	crm.Products: "product", crm.Stages: "stage", crm.Opportunities: "opportunity",
}

func article(noun string) string {
	if noun != "" && strings.ContainsRune("aeiou", rune(noun[0])) {
		return "an"
	}
	return "a"
}

func numberForm(f core.Field) string {
	nf, ok := f.(*core.NumberField)
	if !ok {
		return "a number"
	}
	form := "a number"
	if nf.OnlyInt {
		form = "a whole number"
	}
	num := func(p *float64) string { return strconv.FormatFloat(*p, 'f', -1, 64) }
	switch {
	case nf.Min != nil && nf.Max != nil:
		form += " from " + num(nf.Min) + " to " + num(nf.Max)
	case nf.Min != nil:
		form += " of at least " + num(nf.Min)
	case nf.Max != nil:
		form += " of at most " + num(nf.Max)
	}
	if nf.Required && (nf.Min == nil || *nf.Min <= 0) {
		form += ", not 0"
	}
	return form
}

func textForm(f core.Field) string {
	switch x := f.(type) {
	case *core.SelectField:
		form := "one of " + strings.Join(x.Values, ", ")
		if !x.Required {
			form += ", or empty"
		}
		return form
	case *core.EmailField:
		return "an e-mail address, such as anna@example.com, or empty"
	case *core.TextField:
		if p := patternForms[x.Pattern]; p != "" {
			if x.Max > 0 && !fixedLength[x.Pattern] {
				p = fmt.Sprintf("at most %d characters: %s", x.Max, p)
			}
			if !x.Required {
				p += ", or empty"
			}
			return p
		}
		switch {
		case x.Max > 0 && x.Required:
			return fmt.Sprintf("text of 1 to %d characters", x.Max)
		case x.Max > 0:
			return fmt.Sprintf("text of at most %d characters", x.Max)
		case x.Required:
			return "text, not empty"
		}
	}
	return "text"
}

// fixedLength are the patterns that fix the length (no maximum to add).
var fixedLength = map[string]bool{
	`^[A-Z]{3}$`: true, `^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$`: true, `^([01][0-9]|2[0-3]):[0-5][0-9]$`: true,
}

// explainRule says why a record rule (crm.Prepare…) refused column field of
// a record of t, with the form the column takes.
func explainRule(t Table, collection *core.Collection, fe *crm.FieldError) string {
	c, ok := t.Column(fe.Field)
	if !ok {
		return t.Name + "." + fe.Error()
	}
	return fmt.Sprintf("%s.%s: %s; %s", t.Name, fe.Field, Form(c, collection.Fields.GetByName(fe.Field)), fe.Message)
}

// explain turns PocketBase's validation errors of a record of t into one
// sentence naming each field, the form it takes, and the value sent.
func explain(t Table, collection *core.Collection, err error, raw Raw) string {
	var errs validation.Errors
	if !errors.As(err, &errs) {
		return "invalid record: " + err.Error()
	}
	fields := make([]string, 0, len(errs))
	for name := range errs {
		fields = append(fields, name)
	}
	sort.Strings(fields)
	parts := make([]string, 0, len(fields))
	for _, name := range fields {
		fe := errs[name]
		c, ok := t.Column(name)
		if !ok {
			parts = append(parts, fmt.Sprintf("%s.%s: %s", t.Name, name, strings.TrimRight(strings.ToLower(fe.Error()), ".")))
			continue
		}
		var code string
		var ve validation.Error
		if errors.As(fe, &ve) {
			code = ve.Code()
		}
		form := Form(c, collection.Fields.GetByName(name))
		sent, has := raw[name]
		switch {
		case code == "validation_required" && c.Required && (!has || isEmpty(sent)):
			parts = append(parts, fmt.Sprintf("%s.%s is required: %s", t.Name, name, form))
		case code == "validation_missing_rel_records":
			parts = append(parts, fmt.Sprintf("%s.%s: %s", t.Name, name, fe.Error()))
		case has:
			parts = append(parts, fmt.Sprintf("%s.%s: %s; got %s", t.Name, name, form, wireText(sent)))
		default:
			parts = append(parts, fmt.Sprintf("%s.%s: %s (%s)", t.Name, name, form, strings.TrimRight(strings.ToLower(fe.Error()), ".")))
		}
	}
	return strings.Join(parts, "; ")
}

// isEmpty reports whether a wire value leaves a column empty: null or "".
// A 0 is a value (out of range, perhaps), not a missing one.
func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	}
	return false
}

// wireText shows a sent value in a message: text quoted and clipped.
func wireText(v any) string {
	switch x := v.(type) {
	case string:
		if len(x) > 40 {
			return fmt.Sprintf("%q… (%d characters)", clip(x[:40]), len([]rune(x)))
		}
		return strconv.Quote(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case nil:
		return "null"
	}
	return fmt.Sprint(v)
}

// checkRequired refuses a new record of t sent without a required column
// (or with null or ""), naming the column and the form it takes.
func checkRequired(t Table, collection *core.Collection, raw Raw) error {
	for _, c := range t.Columns {
		if !c.Required {
			continue
		}
		if v, ok := raw[c.Name]; !ok || isEmpty(v) {
			return refuse("%s.%s is required: %s", t.Name, c.Name, Form(c, collection.Fields.GetByName(c.Name)))
		}
	}
	return nil
}
