package hooks

import (
	"html/template"
	"strings"

	"github.com/pocketbase/pocketbase/core"

	"rounds/crm"
)

// The customer's pages (invite, e-mail confirmation, preferences,
// unsubscribe) speak the customer's language: ?lang= when they switch,
// else the contact's language, else their browser's (Accept-Language).

// pageWords are the pages' words per language; every language has every key
// (TestCustomerPagesSpeakTheirLanguage checks).
var pageWords = map[string]map[string]string{
	"en": {
		"invite_title":    "An invitation from %s",
		"invite_broken":   "This invite does not work",
		"hello":           "Hello %s",
		"invites_you":     "%s at %s invites you to receive our birthday and holiday greetings.",
		"your_contact":    "Your sales contact",
		"by_email":        "By e-mail",
		"by_email_help":   "Type your address: we send you a link to confirm it. Nothing else is sent until you click it.",
		"email_label":     "Your e-mail address",
		"send_link":       "Send me the link",
		"in_app":          "In the app",
		"in_app_help":     "Nothing is sent until you accept in the %s app. You can set quiet hours and a weekly maximum, and stop at any time.",
		"accept_app":      "Accept in the app",
		"app_missing":     "If the button does nothing, install the %s app and open this link again. The invite works once and until %s.",
		"sent":            "Check your inbox: we sent a link to %s. Open it to confirm. The link works until %s.",
		"bad_address":     "%s is not an e-mail address. Check it and try again.",
		"no_mail":         "We cannot send e-mail right now. Please try again later, or ask your sales contact.",
		"send_failed":     "The e-mail could not be sent to this address. Check it and try again.",
		"refused":         "The link was refused: ",
		"no_contact":      "This link's contact no longer exists.",
		"link_broken":     "This link does not work",
		"replaced":        "This link is for an address you have since replaced. Open the newest e-mail we sent you.",
		"confirm_title":   "Confirm your e-mail address",
		"confirm_ask":     "%s, do you want to receive our birthday and holiday greetings at %s?",
		"confirm_button":  "Yes, send me greetings",
		"not_you":         "If you did not ask for this, ignore this e-mail: nothing will be sent to you.",
		"confirmed_title": "Thank you",
		"confirmed":       "You will receive our greetings at %s. A welcome e-mail is on its way.",
		"choose":          "Choose what you receive, and when",
		"prefs_title":     "Your message preferences",
		"prefs_intro":     "Choose which messages you receive from us, and when.",
		"saved":           "Saved.",
		"saved_out":       "You will not receive any more messages from us.",
		"opt_in":          "Send me birthday and holiday greetings",
		"quiet_from":      "Quiet hours: no messages from",
		"quiet_until":     "until",
		"weekly_max":      "At most this many messages a week (0 for no limit)",
		"save":            "Save",
		"unsub_title":     "Unsubscribe",
		"unsub_ask":       "Unsubscribe, %s?",
		"unsub_help":      "You will not receive any more greetings or messages from us.",
		"unsub_button":    "Unsubscribe",
		"unsub_done":      "You are unsubscribed",
		"unsub_done_help": "%s, you will not receive any more messages from us. Anything waiting to be sent was cancelled.",
		"unsub_again":     "Change your mind, or choose what you receive",
		"unsub_or":        "Or choose what you receive, and when",
		"not_subscribed":  "You are not subscribed",
		"we_send_none":    "%s, we send you no messages.",
		"language":        "中文",
		"other_lang":      "zh-CN",
	},
	"zh-CN": {
		"invite_title":    "来自%s的邀请",
		"invite_broken":   "此邀请无效",
		"hello":           "%s，您好",
		"invites_you":     "%s（%s）邀请您接收我们的生日和节日问候。",
		"your_contact":    "您的销售联系人",
		"by_email":        "通过电子邮件",
		"by_email_help":   "请输入您的邮箱地址：我们会发送一个确认链接。在您点击之前，我们不会发送任何其他内容。",
		"email_label":     "您的邮箱地址",
		"send_link":       "发送确认链接",
		"in_app":          "在应用中",
		"in_app_help":     "在您于%s应用中接受之前，我们不会发送任何内容。您可以设置免打扰时段和每周上限，并可随时停止。",
		"accept_app":      "在应用中接受",
		"app_missing":     "如果按钮没有反应，请安装%s应用后重新打开此链接。此邀请仅可使用一次，有效期至%s。",
		"sent":            "请查收邮件：我们已向%s发送了确认链接，请打开它完成确认。链接有效期至%s。",
		"bad_address":     "%s 不是有效的邮箱地址，请检查后重试。",
		"no_mail":         "我们暂时无法发送电子邮件。请稍后再试，或联系您的销售联系人。",
		"send_failed":     "无法向此地址发送邮件，请检查后重试。",
		"refused":         "链接被拒绝：",
		"no_contact":      "此链接对应的联系人已不存在。",
		"link_broken":     "此链接无效",
		"replaced":        "此链接对应的地址已被您更换，请打开我们最新发送的邮件。",
		"confirm_title":   "确认您的邮箱地址",
		"confirm_ask":     "%s，您是否愿意通过 %s 接收我们的生日和节日问候？",
		"confirm_button":  "是的，请发送问候",
		"not_you":         "如果这不是您的操作，请忽略此邮件，我们不会向您发送任何内容。",
		"confirmed_title": "谢谢您",
		"confirmed":       "您将通过 %s 收到我们的问候。欢迎邮件即将送达。",
		"choose":          "选择您接收的内容和时间",
		"prefs_title":     "您的消息偏好",
		"prefs_intro":     "选择您希望接收的消息及时间。",
		"saved":           "已保存。",
		"saved_out":       "您将不会再收到我们的任何消息。",
		"opt_in":          "向我发送生日和节日问候",
		"quiet_from":      "免打扰时段：从",
		"quiet_until":     "到",
		"weekly_max":      "每周最多消息数（0 表示不限）",
		"save":            "保存",
		"unsub_title":     "退订",
		"unsub_ask":       "%s，确定退订吗？",
		"unsub_help":      "您将不会再收到我们的任何问候或消息。",
		"unsub_button":    "退订",
		"unsub_done":      "您已退订",
		"unsub_done_help": "%s，您将不会再收到我们的任何消息。所有待发送的消息均已取消。",
		"unsub_again":     "改变主意，或选择您接收的内容",
		"unsub_or":        "或选择您接收的内容和时间",
		"not_subscribed":  "您未订阅",
		"we_send_none":    "%s，我们不会向您发送任何消息。",
		"language":        "English",
		"other_lang":      "en",
	},
}

func words(lang string) map[string]string { return pageWords[crm.LanguageOf(lang)] }

// pageLang is the language a customer page speaks: ?lang= (the switch on
// every page), the contact's language, else the browser's.
func pageLang(e *core.RequestEvent, contact *core.Record) string {
	if l := e.Request.URL.Query().Get("lang"); l != "" {
		return crm.LanguageOf(l)
	}
	if e.Request.Method == "POST" {
		if l := e.Request.PostFormValue("lang"); l != "" {
			return crm.LanguageOf(l)
		}
	}
	if contact != nil && contact.GetString("language") != "" {
		return crm.LanguageOf(contact.GetString("language"))
	}
	for _, part := range strings.Split(e.Request.Header.Get("Accept-Language"), ",") {
		tag := strings.ToLower(strings.TrimSpace(strings.SplitN(part, ";", 2)[0]))
		switch {
		case strings.HasPrefix(tag, "zh"):
			return "zh-CN"
		case strings.HasPrefix(tag, "en"):
			return "en"
		}
	}
	return crm.Languages[0]
}

const pageStyle = `<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:1.5rem auto;padding:0 1rem;line-height:1.5;color:#1b1b1b}
h1{font-size:1.5rem;line-height:1.25}h2{font-size:1.15rem;margin:0 0 .5rem}.card{border:1px solid #d0d7de;border-radius:.5rem;padding:1rem;margin:1rem 0}
a.button{display:inline-block;background:#0b57d0;color:#fff;text-decoration:none;padding:.75rem 1.25rem;border-radius:.4rem;font-size:1.05rem}
button{font-size:1rem;padding:.6rem 1.2rem;margin-top:.8rem;background:#0b57d0;color:#fff;border:0;border-radius:.4rem}
label{display:block;margin:1rem 0 .25rem}input[type=email]{font-size:1rem;padding:.5rem;width:100%;box-sizing:border-box}
input[type=time],input[type=number]{font-size:1rem;padding:.4rem}
.muted{color:#555;font-size:.95rem}.note{background:#eef7ee;padding:.6rem;border-radius:.4rem}.error{background:#fbeaea;padding:.6rem;border-radius:.4rem;overflow-wrap:anywhere}
.lang{float:right;font-size:.9rem}</style>`

type invitePageData struct {
	T                                                               map[string]string
	Lang, Error, Problem, Name, Rep, AppName, Expires, Token, Email string
	Sent                                                            string // the masked address a link went to
	AppLink                                                         template.URL
}

var invitePage = template.Must(template.New("invite").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{if .Error}}{{.T.invite_broken}}{{else}}{{printf .T.invite_title .AppName}}{{end}}</title>` + pageStyle + `</head>
<body>
{{if .Token}}<a class="lang" href="/care/register?token={{.Token}}&amp;lang={{.T.other_lang}}">{{.T.language}}</a>{{end}}
{{if .Error}}<h1>{{.T.invite_broken}}</h1><p class="error">{{.Error}}</p>
{{else}}<h1>{{printf .T.hello .Name}}</h1>
<p>{{printf .T.invites_you (or .Rep .T.your_contact) .AppName}}</p>
{{if .Sent}}<p class="note" id="sent">{{printf .T.sent .Sent .Expires}}</p>
{{else}}<div class="card">
<h2>{{.T.by_email}}</h2>
<p class="muted">{{.T.by_email_help}}</p>
{{if .Problem}}<p class="error" id="problem">{{.Problem}}</p>{{end}}
<form method="post" action="/care/register/email">
<input type="hidden" name="token" value="{{.Token}}"><input type="hidden" name="lang" value="{{.Lang}}">
<label for="email">{{.T.email_label}}</label><input id="email" type="email" name="email" autocomplete="email" required value="{{.Email}}">
<button type="submit">{{.T.send_link}}</button>
</form></div>
{{if .AppLink}}<div class="card">
<h2>{{.T.in_app}}</h2>
<p class="muted">{{printf .T.in_app_help .AppName}}</p>
<p><a class="button" href="{{.AppLink}}">{{.T.accept_app}}</a></p>
<p class="muted">{{printf .T.app_missing .AppName .Expires}}</p>
</div>{{end}}{{end}}{{end}}
</body></html>`))

var preferencesPage = template.Must(template.New("prefs").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{.T.prefs_title}}</title>` + pageStyle + `</head>
<body>
{{if .Token}}<a class="lang" href="/care/preferences?token={{.Token}}&amp;lang={{.T.other_lang}}">{{.T.language}}</a>{{end}}
{{if .Error}}<h1>{{.T.link_broken}}</h1><p class="error">{{.Error}}</p>
{{else}}<h1>{{printf .T.hello .Name}}</h1>
<p>{{.T.prefs_intro}}</p>
{{if .Saved}}<p class="note">{{.T.saved}}{{if not .OptIn}} {{.T.saved_out}}{{end}}</p>{{end}}
{{if .Problem}}<p class="error">{{.Problem}}</p>{{end}}
<form method="post" action="/care/preferences">
<input type="hidden" name="token" value="{{.Token}}"><input type="hidden" name="lang" value="{{.Lang}}">
<label><input type="checkbox" name="care_opt_in" value="true"{{if .OptIn}} checked{{end}}> {{.T.opt_in}}</label>
<label for="qs">{{.T.quiet_from}}</label><input id="qs" type="time" name="quiet_start" value="{{.QuietStart}}">
<label for="qe">{{.T.quiet_until}}</label><input id="qe" type="time" name="quiet_end" value="{{.QuietEnd}}">
<label for="wm">{{.T.weekly_max}}</label><input id="wm" type="number" min="0" max="50" name="weekly_max" value="{{.WeeklyMax}}">
<div><button type="submit">{{.T.save}}</button></div>
</form>{{end}}
</body></html>`))

var unsubscribePage = template.Must(template.New("unsubscribe").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{.T.unsub_title}}</title>` + pageStyle + `</head>
<body>
{{if .Error}}<h1>{{.T.link_broken}}</h1><p class="error">{{.Error}}</p>
{{else if .Saved}}<h1>{{.T.unsub_done}}</h1><p class="note">{{printf .T.unsub_done_help .Name}}</p>
<p><a href="/care/preferences?token={{.Token}}">{{.T.unsub_again}}</a></p>
{{else if not .OptIn}}<h1>{{.T.not_subscribed}}</h1><p>{{printf .T.we_send_none .Name}}</p>
{{else}}<h1>{{printf .T.unsub_ask .Name}}</h1><p>{{.T.unsub_help}}</p>
<form method="post" action="/care/unsubscribe"><input type="hidden" name="token" value="{{.Token}}"><input type="hidden" name="lang" value="{{.Lang}}"><button type="submit">{{.T.unsub_button}}</button></form>
<p><a href="/care/preferences?token={{.Token}}">{{.T.unsub_or}}</a></p>{{end}}
</body></html>`))
