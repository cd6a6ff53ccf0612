package crm

import (
	"fmt"
	"strconv"
	"strings"
)

// Care: the customer's language and calendar, and the words of greetings.

// CareTemplates holds each greeting's title and body per language.
const CareTemplates = "care_templates"

// Kinds of customer greetings.
const (
	KindBirthdayGreeting = "birthday_greeting"
	KindHolidayGreeting  = "holiday_greeting"
	// e-mails around consent by e-mail (care_templates kinds too)
	KindEmailConfirmation = "email_confirmation"
	KindCareWelcome       = "care_welcome"
)

// Channels of customer messages (notifications.channel; empty is push).
const (
	ChannelPush  = "push"
	ChannelEmail = "email"
	ChannelPhone = "phone" // the rep calls: a follow-up instead of a message
	ChannelSMS   = "sms"   // no provider yet: such greetings are skipped, saying so
)

// Languages of care messages; the first is the default.
var Languages = []string{"en", "zh-CN"}

// Calendars a birthday or a campaign's day is kept in; empty is Gregorian.
var Calendars = []string{"gregorian", "lunar"}

// LanguageOf is a contact's language, the default when none is set.
func LanguageOf(lang string) string {
	for _, l := range Languages {
		if l == lang {
			return l
		}
	}
	return Languages[0]
}

// Template is a greeting's words in one language.
type Template struct {
	Kind, Language, Title, Body string
}

// DefaultTemplates are the birthday greeting's words as Rounds ships them;
// admins change them in care_templates.
var DefaultTemplates = []Template{
	{KindBirthdayGreeting, "en", "Happy birthday, {first_name}!", "Wishing you a wonderful day. Warm wishes from {rep}."},
	{KindBirthdayGreeting, "zh-CN", "{name}，生日快乐！", "祝您生日快乐，万事如意！{rep}敬上"},
}

// EmailTemplates are the words of the e-mails around consent by e-mail,
// as Rounds ships them (the confirmation's link and the welcome's
// preferences and unsubscribe links come after the body).
var EmailTemplates = []Template{
	{KindEmailConfirmation, "en", "Please confirm: greetings from {rep}",
		"Hello {first_name}, please confirm that you would like to receive birthday and holiday greetings from us at this address."},
	{KindEmailConfirmation, "zh-CN", "请确认：接收{rep}的问候",
		"{name}，您好！请确认您愿意通过此邮箱接收我们的生日和节日问候。"},
	{KindCareWelcome, "en", "Welcome, {first_name}",
		"Thank you for choosing to hear from us. We will send you birthday and holiday greetings at this address, never more often than you allow. Change this or unsubscribe at any time with the links below. — {rep}"},
	{KindCareWelcome, "zh-CN", "{name}，欢迎您",
		"感谢您选择接收我们的问候。我们将通过此邮箱向您发送生日和节日问候，频率不会超过您设定的上限。您可以随时通过下方链接更改设置或退订。——{rep}"},
}

// Fill puts a contact's words into a template: {first_name}, {name} and
// {rep} (the rep's name, or the words for "all of us" in the language).
func Fill(text, language, name, rep string) string {
	if rep == "" {
		rep = map[string]string{"zh-CN": "全体同事"}[language]
		if rep == "" {
			rep = "all of us"
		}
	}
	first := name
	if f := strings.Fields(name); len(f) > 0 {
		first = f[0]
	}
	return strings.NewReplacer("{first_name}", first, "{name}", name, "{rep}", rep).Replace(text)
}

// CheckLunarDay validates a day of the lunar calendar, MM-DD: months 01–12
// and days 01–30 (a 30th of a month of 29 days is kept on its 29th).
func CheckLunarDay(mmdd string) error {
	if mmdd == "" {
		return nil
	}
	bad := fmt.Errorf("%q is not a day of the lunar calendar in the form MM-DD (month 01–12, day 01–30)", mmdd)
	if len(mmdd) != 5 || mmdd[2] != '-' {
		return bad
	}
	m, err1 := strconv.Atoi(mmdd[:2])
	d, err2 := strconv.Atoi(mmdd[3:])
	if err1 != nil || err2 != nil || m < 1 || m > 12 || d < 1 || d > 30 {
		return bad
	}
	return nil
}
