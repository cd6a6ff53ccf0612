package sync

// DateMillisForTest exposes fastDateMillis to the tests (-1: not parsed).
func DateMillisForTest(s string) int64 {
	ms, ok := fastDateMillis(s)
	if !ok {
		return -1
	}
	return ms
}
