package enrollment

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/aulasneo/wc-openedx/internal/i18n"
)

// Notices are problems reported once to the shop's admins, besides the webhook incidents
// (SPEC §2.1, §2.7): a webhook set to a legacy API version, which the Webhook function sees
// in a delivery, and an order reconciliation cannot read. A notice is opened once, in the
// sweep's state, and the sweep emails the notices not sent yet, as it emails webhook
// incidents. A notice stays after it was sent, so the same webhook or order is not reported
// again; the oldest sent ones are dropped beyond maxNotices.

// Notice kinds.
const (
	NoticeLegacyWebhook   = "legacy-webhook"
	NoticeUnreadableOrder = "unreadable-order"
)

// maxNotices bounds the notices kept.
const maxNotices = 200

// Notice is one problem reported once.
type Notice struct {
	Key  string `firestore:"key"` // kind|ref
	Kind string `firestore:"kind"`
	// Ref is the webhook's id (X-WC-Webhook-ID) or the order's id as the shop wrote it.
	Ref      string    `firestore:"ref"`
	Topic    string    `firestore:"topic,omitempty"`   // legacy webhook: the topic it delivers
	Problem  i18n.Text `firestore:"problem,omitempty"` // unreadable order: what could not be read
	OpenedAt time.Time `firestore:"openedAt"`
	SentAt   time.Time `firestore:"sentAt,omitzero"` // set when the email is claimed
}

// LegacyWebhook is a webhook that delivers legacy payloads, as the alert names it.
type LegacyWebhook struct {
	ID    string // X-WC-Webhook-ID; "" when the delivery did not say
	Name  string // from the shop's webhook list, "" when unknown
	Topic string
}

// UnreadableOrder is an order of the shop's listing that reconciliation could not read.
type UnreadableOrder struct {
	Ref     string // its id as the shop wrote it, "" when it has none
	Problem string // in the shop's language
}

// NoticeReport says what the sweep did with the notices in one run.
type NoticeReport struct {
	Sent  int    `json:"sent"` // notices emailed
	Error string `json:"error,omitempty"`
}

// openNotice records n unless a notice with its key exists (sent or not). It reports whether
// it recorded it. The state is read first, so that the common case, a notice open already,
// writes nothing.
func (s *Service) openNotice(ctx context.Context, n Notice) (bool, error) {
	if s.SweepStore == nil {
		return false, nil
	}
	has := func(st SweepState) bool {
		return slices.ContainsFunc(st.Notices, func(x Notice) bool { return x.Key == n.Key })
	}
	st, err := s.SweepStore.LoadSweep(ctx)
	if err != nil {
		return false, err
	}
	if has(st) {
		return false, nil
	}
	opened := false
	err = s.SweepStore.UpdateSweep(ctx, func(st *SweepState) error {
		opened = false
		if has(*st) {
			return nil
		}
		st.Notices = append(st.Notices, n)
		if extra := len(st.Notices) - maxNotices; extra > 0 {
			// Drop the oldest sent notices; unsent ones wait for their email.
			st.Notices = slices.DeleteFunc(st.Notices, func(x Notice) bool {
				if extra > 0 && !x.SentAt.IsZero() {
					extra--
					return true
				}
				return false
			})
		}
		opened = true
		return nil
	})
	return opened, err
}

// SendNotices emails the notices not sent yet: one email for the legacy webhooks, naming each
// by the shop's webhook list (hooks, which may be nil), and one for the unreadable orders. A
// notice is claimed before its email and released when the email fails transiently, so the
// next run sends it; a permanent failure is logged and not retried.
func (s *Service) SendNotices(ctx context.Context, hooks []Webhook) NoticeReport {
	var rep NoticeReport
	if s.SweepStore == nil {
		return rep
	}
	now := s.now()
	var claimed []Notice
	err := s.SweepStore.UpdateSweep(ctx, func(st *SweepState) error {
		claimed = claimed[:0]
		for i := range st.Notices {
			if st.Notices[i].SentAt.IsZero() {
				st.Notices[i].SentAt = now
				claimed = append(claimed, st.Notices[i])
			}
		}
		return nil
	})
	if err != nil {
		rep.Error = "claim notices: " + err.Error()
		s.log().ErrorContext(ctx, "notices not claimed; the next run tries again", "error", err)
		return rep
	}
	if len(claimed) == 0 {
		return rep
	}
	var legacy []LegacyWebhook
	var unreadable []UnreadableOrder
	var legacyKeys, unreadableKeys []string
	for _, n := range claimed {
		switch n.Kind {
		case NoticeLegacyWebhook:
			w := LegacyWebhook{ID: n.Ref, Topic: n.Topic}
			for _, h := range hooks {
				if fmt.Sprint(h.ID) == n.Ref {
					w.Name = h.Name
				}
			}
			legacy = append(legacy, w)
			legacyKeys = append(legacyKeys, n.Key)
		case NoticeUnreadableOrder:
			unreadable = append(unreadable, UnreadableOrder{Ref: n.Ref, Problem: n.Problem.In(s.lang())})
			unreadableKeys = append(unreadableKeys, n.Key)
		}
	}
	var errs []string
	send := func(keys []string, what string, call func(to []string) error) {
		if len(keys) == 0 {
			return
		}
		err := s.alertWith(ctx, call)
		if err == nil {
			rep.Sent += len(keys)
			s.log().InfoContext(ctx, what+" alert sent", "notices", len(keys))
			return
		}
		errs = append(errs, what+" alert email: "+err.Error())
		if IsPermanent(err) {
			s.log().ErrorContext(ctx, what+" alert email not sent", "error", err)
			return
		}
		s.log().WarnContext(ctx, what+" alert email not sent; the next run tries again", "error", err)
		uerr := s.SweepStore.UpdateSweep(context.WithoutCancel(ctx), func(st *SweepState) error {
			for i := range st.Notices {
				if slices.Contains(keys, st.Notices[i].Key) && st.Notices[i].SentAt.Equal(now) {
					st.Notices[i].SentAt = time.Time{}
				}
			}
			return nil
		})
		if uerr != nil {
			s.log().ErrorContext(ctx, "could not release the unsent notices", "error", uerr)
		}
	}
	send(legacyKeys, "legacy webhook", func(to []string) error {
		return s.Alerter.SendLegacyWebhookAlert(ctx, to, s.SweepSettings.ShopURL, legacy)
	})
	send(unreadableKeys, "unreadable order", func(to []string) error {
		return s.Alerter.SendUnreadableOrderAlert(ctx, to, s.SweepSettings.ShopURL, unreadable)
	})
	for i, e := range errs {
		if i > 0 {
			rep.Error += "; "
		}
		rep.Error += e
	}
	return rep
}

// alertWith sends one alert to the new-order recipients (NOTIFY_EMAILS when empty).
func (s *Service) alertWith(ctx context.Context, call func(to []string) error) error {
	if s.Alerter == nil {
		return Permanent(fmt.Errorf("no mailer for alerts"))
	}
	to := s.recipients(ctx)
	if len(to) == 0 {
		return Permanent(fmt.Errorf("no recipients: the shop's new-order recipients are empty and NOTIFY_EMAILS is not set"))
	}
	return call(to)
}

// noticeUnreadable reports an entry of the shop's order listing that could not be read, once:
// a log line and a notice (emailed by the sweep) the first time, a debug line after.
func (s *Service) noticeUnreadable(ctx context.Context, so ShopOrder, hash string) {
	ref := so.Ref
	if ref == "" {
		ref = "body " + hash[:16] // nothing else tells it from other entries
	}
	opened, err := s.openNotice(ctx, Notice{
		Key: NoticeUnreadableOrder + "|" + ref, Kind: NoticeUnreadableOrder, Ref: so.Ref,
		Problem: so.Unreadable, OpenedAt: s.now(),
	})
	log := s.log().With("order", so.Ref, "problem", so.Unreadable.In(i18n.English))
	switch {
	case err != nil:
		log.ErrorContext(ctx, "reconciliation skipped an order it cannot read and could not record the notice; the next run reports it", "error", err)
	case opened:
		log.WarnContext(ctx, "reconciliation skipped an order it cannot read; the shop's admins will be emailed")
	default:
		log.DebugContext(ctx, "reconciliation skipped an order it cannot read, reported before")
	}
}

// IntakeLegacy records a signed delivery of a webhook set to a legacy API version (its body is
// {"order": {...}}, SPEC §2.1) as ignored, with the reason, and opens a notice for that webhook
// so the sweep emails the admins once how to fix it. The orders it was about are picked up by
// reconciliation. An error means the delivery was not recorded; a notice that could not be
// opened is only logged (the webhook's next delivery tries again).
func (s *Service) IntakeLegacy(ctx context.Context, d Delivery) (string, error) {
	d.ReceivedAt = s.now()
	hook := "#" + d.WebhookID
	if d.WebhookID == "" {
		hook = "(the delivery did not say which)"
	}
	d.Reason = fmt.Sprintf(`legacy API version: webhook %s delivers the legacy payload {"order": …}, which the service does not read; set the webhook's API version to "WP REST API Integration v3"`, hook)
	dup, err := s.Store.RecordIgnored(ctx, d)
	if err != nil {
		return "", fmt.Errorf("record %s delivery: %w", d.Topic, err)
	}
	log := s.log().With("webhook", d.WebhookID, "topic", d.Topic, "order", d.OrderID)
	opened, err := s.openNotice(ctx, Notice{
		Key: NoticeLegacyWebhook + "|" + d.WebhookID, Kind: NoticeLegacyWebhook, Ref: d.WebhookID,
		Topic: d.Topic, OpenedAt: d.ReceivedAt,
	})
	switch {
	case err != nil:
		log.ErrorContext(ctx, "legacy delivery ignored; the notice to the admins could not be recorded", "reason", d.Reason, "error", err)
	case opened:
		log.WarnContext(ctx, "legacy delivery ignored; the shop's admins will be emailed", "reason", d.Reason)
	default:
		log.InfoContext(ctx, "legacy delivery ignored, reported before", "reason", d.Reason)
	}
	if dup {
		return OutcomeDuplicate, nil
	}
	return OutcomeIgnored, nil
}
