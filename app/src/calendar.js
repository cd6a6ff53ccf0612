// The days a birthday is kept on, in the calendar it is kept in, by the
// server's rules (care/lunar.go; README, "Their calendar"), so that the
// app's "Birthdays this week" names the days the greetings go out:
//   - Gregorian: the day itself; 29 February on 28 February in a common year;
//   - lunar (农历): a day of a regular month on itself, a 30th on the 29th of
//     a month of 29 days; a leap month (闰月) keeps nothing, so a day kept in
//     a leap month comes in the regular month of its number, once a year.
// Lunar days come from the server's own months (lunar-table.js, 2000–2100;
// a Go test holds the app's days to the server's): the browser's Chinese
// calendar (ICU) puts 春节 2027 and 2030 a day off the published dates.
import { DIGITS, FIRST, MONTHS } from './lunar-table.js'

const DAY = 86400000

// months: the first day (since 1970-01-01) of each lunar month in the
// table, its number, whether it is a leap month, and its days.
let months = null
function table() {
  if (months) return months
  months = []
  let start = FIRST
  for (const ch of MONTHS) {
    const v = DIGITS.indexOf(ch)
    const m = { start, month: Math.floor(v / 4) + 1, leap: (v & 2) !== 0, days: 29 + (v & 1) }
    months.push(m)
    start += m.days
  }
  return months
}

// lunarOf is the lunar month and day of a day (days since 1970-01-01), or
// null outside the table.
function lunarOf(dayNumber) {
  const ms = table()
  let lo = 0
  let hi = ms.length - 1
  if (dayNumber < ms[0].start || dayNumber >= ms[hi].start + ms[hi].days) return null
  while (lo < hi) { // the last month that starts on or before the day
    const mid = (lo + hi + 1) >> 1
    if (ms[mid].start <= dayNumber) lo = mid
    else hi = mid - 1
  }
  const m = ms[lo]
  return { month: m.month, leap: m.leap, day: dayNumber - m.start + 1, days: m.days }
}

const mmdd = (m, d) => `${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`
const isLeapYear = (y) => y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0)

// celebratedOn lists the MM-DD days of calendar cal ('lunar', else
// Gregorian) kept on the day y-m-d (month 1–12).
export function celebratedOn(y, m, d, cal) {
  if (cal !== 'lunar') {
    const out = [mmdd(m, d)]
    if (m === 2 && d === 28 && !isLeapYear(y)) out.push('02-29')
    return out
  }
  const l = lunarOf(Math.round(Date.UTC(y, m - 1, d) / DAY))
  if (!l || l.leap) return []
  const out = [mmdd(l.month, l.day)]
  if (l.day === 29 && l.days === 29) out.push(mmdd(l.month, 30))
  return out
}

// validBirthday: MM-DD of a day the calendar has (29 February allowed; a
// lunar month has up to 30 days).
export function validBirthday(s, cal) {
  const m = /^(\d{2})-(\d{2})$/.exec(s)
  if (!m) return false
  const month = Number(m[1])
  const day = Number(m[2])
  const days = cal === 'lunar' ? 30 : [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
  return month >= 1 && month <= 12 && day >= 1 && day <= days
}
