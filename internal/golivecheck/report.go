package golivecheck

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Status is the verdict of one line.
type Status string

const (
	// OK: the check passed.
	OK Status = "ok"
	// Fail: WeChat Pay or the proxy would refuse; the line says what to
	// change. Any Fail makes the exit status 1.
	Fail Status = "fail"
	// Warn: worth a look, not a reason to stop the deployment.
	Warn Status = "warn"
	// Skipped: not checked, because an earlier line failed.
	Skipped Status = "skipped"
)

// mark is the symbol a status is printed with.
func (s Status) mark() string {
	switch s {
	case OK:
		return "✓"
	case Fail:
		return "✗"
	case Warn:
		return "⚠"
	}
	return "–"
}

// Check names of the lines, as the JSON output spells them.
const (
	CheckPrivateKey          = "private_key"
	CheckMerchantCertificate = "merchant_certificate"
	CheckWechatPayKeys       = "wechatpay_keys"
	CheckAPIv3Key            = "apiv3_key"
	CheckConfigWarning       = "config_warning"
	CheckSignature           = "signature"
	CheckAnswer              = "answer"
	CheckClock               = "clock"
	CheckBackup              = "backup_domain"
)

// Line is one verdict.
type Line struct {
	// Check names what was checked (one of the Check* names).
	Check string `json:"check"`
	// Status is the verdict.
	Status Status `json:"status"`
	// Text says what was found.
	Text string `json:"text"`
	// Fix says what to change, for a Fail or a Warn.
	Fix string `json:"fix,omitempty"`
}

// Target is one configuration checked: a merchant of the wechatpay app,
// or a wechatpay or wechatpay_notify handler with keys of its own.
type Target struct {
	// Name says which: "merchant school", "wechatpay handler srv0#1".
	Name string `json:"name"`
	// MchID is the merchant number, when known.
	MchID string `json:"mchid,omitempty"`
	// URL is where the signed call went, when one did.
	URL string `json:"url,omitempty"`
	// Lines are the verdicts, in the order checked.
	Lines []Line `json:"lines"`
}

// Add appends a line.
func (t *Target) Add(check string, status Status, text, fix string) {
	t.Lines = append(t.Lines, Line{Check: check, Status: status, Text: text, Fix: fix})
}

// Failed reports whether a line of t failed.
func (t *Target) Failed() bool {
	for _, l := range t.Lines {
		if l.Status == Fail {
			return true
		}
	}
	return false
}

// Line returns t's first line of that check, or nil.
func (t *Target) Line(check string) *Line {
	for i := range t.Lines {
		if t.Lines[i].Check == check {
			return &t.Lines[i]
		}
	}
	return nil
}

// Report is the outcome of a check run.
type Report struct {
	// OK is true when no line failed.
	OK bool `json:"ok"`
	// Targets are the configurations checked, in order.
	Targets []*Target `json:"targets"`
}

// NewReport returns the report of the targets.
func NewReport(targets []*Target) *Report {
	r := &Report{OK: true, Targets: targets}
	for _, t := range targets {
		if t.Failed() {
			r.OK = false
		}
	}
	return r
}

// ExitStatus is 0 when every line passed (warnings allowed), 1 otherwise.
func (r *Report) ExitStatus() int {
	if r.OK {
		return 0
	}
	return 1
}

// WriteText writes the report for a person: per target a heading, then one
// line per check with its mark, and under each ✗ or ⚠ what to change.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	failed := 0
	for _, t := range r.Targets {
		b.WriteString(t.Name)
		var about []string
		if t.MchID != "" {
			about = append(about, "mchid "+t.MchID)
		}
		if t.URL != "" {
			about = append(about, t.URL)
		}
		if len(about) > 0 {
			b.WriteString(" (" + strings.Join(about, ", ") + ")")
		}
		b.WriteByte('\n')
		for _, l := range t.Lines {
			fmt.Fprintf(&b, "  %s %s: %s\n", l.Status.mark(), l.Check, l.Text)
			if l.Fix != "" && (l.Status == Fail || l.Status == Warn) {
				fmt.Fprintf(&b, "      → %s\n", l.Fix)
			}
			if l.Status == Fail {
				failed++
			}
		}
	}
	if r.OK {
		b.WriteString("✓ every check passed: WeChat Pay accepts this configuration, and it accepts WeChat Pay's answers\n")
	} else {
		fmt.Fprintf(&b, "✗ %d check(s) failed: change what the lines marked ✗ say, then run the check again\n", failed)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the report as one JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// DaysLeft says how long from now until notAfter, in whole days, or how
// long ago it passed.
func DaysLeft(now, notAfter time.Time) string {
	if !now.Before(notAfter) {
		switch ago := int(now.Sub(notAfter).Hours() / 24); ago {
		case 0:
			return "expired today"
		case 1:
			return "expired 1 day ago"
		default:
			return fmt.Sprintf("expired %d days ago", ago)
		}
	}
	if days := int(notAfter.Sub(now).Hours() / 24); days != 1 {
		return fmt.Sprintf("%d days left", days)
	}
	return "1 day left"
}
