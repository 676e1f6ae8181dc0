package gateway

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseRate reads a Rate written "<limit>/<period>[:<burst>]", e.g.
// "20/1m" (20 a minute, bursts of 20) or "600/1m:50" (600 a minute, at most
// 50 back to back). The period is a Go duration; a bare unit means one of
// it ("100/s").
func ParseRate(s string) (Rate, error) {
	spec, burstText, hasBurst := strings.Cut(strings.TrimSpace(s), ":")
	limitText, periodText, ok := strings.Cut(spec, "/")
	if !ok {
		return Rate{}, fmt.Errorf("rate %q: want <limit>/<period>[:<burst>], e.g. 20/1m", s)
	}
	limit, err := strconv.Atoi(strings.TrimSpace(limitText))
	if err != nil || limit < 1 {
		return Rate{}, fmt.Errorf("rate %q: the limit must be a positive integer", s)
	}
	periodText = strings.TrimSpace(periodText)
	if periodText != "" && !strings.ContainsAny(periodText[:1], "0123456789") {
		periodText = "1" + periodText
	}
	period, err := time.ParseDuration(periodText)
	if err != nil || period <= 0 {
		return Rate{}, fmt.Errorf("rate %q: the period must be a positive duration such as 1s or 1m", s)
	}
	r := Rate{Limit: limit, Period: period, Burst: limit}
	if hasBurst {
		if r.Burst, err = strconv.Atoi(strings.TrimSpace(burstText)); err != nil || r.Burst < 1 {
			return Rate{}, fmt.Errorf("rate %q: the burst must be a positive integer", s)
		}
	}
	return r, nil
}

// String writes r the way ParseRate reads it.
func (r Rate) String() string {
	s := strconv.Itoa(r.Limit) + "/" + r.Period.String()
	if r.Burst != r.Limit {
		s += ":" + strconv.Itoa(r.Burst)
	}
	return s
}
