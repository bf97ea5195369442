// Package jobs carries the domain's jobs over Pub/Sub: the publisher used by intake, the
// Confirm function and the sweep's outbox relay, and the decoding of the push envelope the
// Enroll function receives (protocols.md E).
package jobs

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
)

// Publisher publishes jobs to the jobs topic.
type Publisher struct {
	client *pubsub.Client
	pub    *pubsub.Publisher
}

var _ enrollment.Publisher = (*Publisher)(nil)

// NewPublisher opens a Pub/Sub client for project (the emulator when PUBSUB_EMULATOR_HOST is
// set) and a publisher for topic. Messages are sent at once, not batched, since intake
// waits for each publish.
func NewPublisher(ctx context.Context, project, topic string, opts ...option.ClientOption) (*Publisher, error) {
	c, err := pubsub.NewClient(ctx, project, opts...)
	if err != nil {
		return nil, fmt.Errorf("pubsub client: %w", err)
	}
	p := c.Publisher(topic)
	p.PublishSettings.DelayThreshold = time.Millisecond
	p.PublishSettings.CountThreshold = 1
	p.PublishSettings.Timeout = 10 * time.Second
	return &Publisher{client: c, pub: p}, nil
}

// Client exposes the Pub/Sub client (for administration in cmd/dev and tests).
func (p *Publisher) Client() *pubsub.Client { return p.client }

// EmulatorAt returns the client options that reach a Pub/Sub emulator at host (host:port)
// whatever PUBSUB_EMULATOR_HOST says; tests use it to put a fault proxy in between.
func EmulatorAt(host string) []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(host),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
		option.WithTelemetryDisabled(),
	}
}

// Setup creates the jobs topic, a dead-letter topic, and push subscriptions delivering both
// to enrollURL (the dead-letter one tells the Enroll function that retries are exhausted).
// It is for the emulators (cmd/dev and tests); production resources come from Terraform.
// Local subscriptions have no retry policy: with one, the emulator stops redelivering once
// several messages fail together (protocols.md H); without it, it redelivers after ~1 s.
func Setup(ctx context.Context, c *pubsub.Client, project, topic, enrollURL string, maxAttempts int) error {
	deadTopic := topic + "-dead"
	for _, t := range []string{topic, deadTopic} {
		_, err := c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: "projects/" + project + "/topics/" + t})
		if err != nil && status.Code(err) != codes.AlreadyExists {
			return fmt.Errorf("create topic %s: %w", t, err)
		}
	}
	subs := []*pubsubpb.Subscription{{
		Name:               "projects/" + project + "/subscriptions/" + topic + "-enroll",
		Topic:              "projects/" + project + "/topics/" + topic,
		PushConfig:         &pubsubpb.PushConfig{PushEndpoint: enrollURL},
		AckDeadlineSeconds: 60,
		DeadLetterPolicy: &pubsubpb.DeadLetterPolicy{
			DeadLetterTopic:     "projects/" + project + "/topics/" + deadTopic,
			MaxDeliveryAttempts: int32(maxAttempts),
		},
	}, {
		Name:               "projects/" + project + "/subscriptions/" + deadTopic + "-enroll",
		Topic:              "projects/" + project + "/topics/" + deadTopic,
		PushConfig:         &pubsubpb.PushConfig{PushEndpoint: enrollURL},
		AckDeadlineSeconds: 60,
	}}
	for _, s := range subs {
		_, err := c.SubscriptionAdminClient.CreateSubscription(ctx, s)
		if status.Code(err) == codes.AlreadyExists {
			_, err = c.SubscriptionAdminClient.UpdateSubscription(ctx, &pubsubpb.UpdateSubscriptionRequest{
				Subscription: s,
				UpdateMask:   &fieldmaskpb.FieldMask{Paths: []string{"push_config"}},
			})
		}
		if err != nil {
			return fmt.Errorf("create subscription %s: %w", s.Name, err)
		}
	}
	return nil
}

// Publish implements enrollment.Publisher: it returns when Pub/Sub has the message or ctx ends.
func (p *Publisher) Publish(ctx context.Context, j enrollment.Job) error {
	data, err := json.Marshal(j)
	if err != nil {
		return err
	}
	res := p.pub.Publish(ctx, &pubsub.Message{
		Data: data,
		Attributes: map[string]string{
			"kind":     j.Kind,
			"order_id": strconv.FormatInt(j.OrderID, 10),
			"job_id":   j.ID,
		},
	})
	if _, err := res.Get(ctx); err != nil {
		return fmt.Errorf("publish job %s: %w", j.ID, err)
	}
	return nil
}

// Close flushes and closes.
func (p *Publisher) Close() error {
	p.pub.Stop()
	return p.client.Close()
}

// Push is a Pub/Sub push request body in the default wrapped form.
type Push struct {
	Message struct {
		Data       []byte            `json:"data"`
		Attributes map[string]string `json:"attributes"`
		MessageID  string            `json:"messageId"`
		// the emulator and the service write both spellings
		MessageIDSnake string `json:"message_id"`
		PublishTime    string `json:"publishTime"`
	} `json:"message"`
	Subscription    string `json:"subscription"`
	DeliveryAttempt int    `json:"deliveryAttempt"`
}

// DeadLetterAttempts reports whether the message was dead-lettered (it comes through a
// subscription on the dead-letter topic) and after how many delivery attempts. Pub/Sub and
// its emulator add these attributes when they forward a message to the dead-letter topic; the
// emulator also omits deliveryAttempt, so this is how retries are known to be exhausted.
func (p *Push) DeadLetterAttempts() (int, bool) {
	n, ok := p.Message.Attributes["CloudPubSubDeadLetterSourceDeliveryCount"]
	if !ok {
		return 0, false
	}
	count, _ := strconv.Atoi(n)
	return count, true
}

// ErrBadPush: the body is not a push envelope carrying a job. Such a message can never be
// processed, so the Enroll function acknowledges it (and logs why).
var ErrBadPush = errors.New("not a Pub/Sub push of a job")

// MaxPushBytes bounds the push body read (Pub/Sub messages are at most 10 MB; jobs are tiny).
const MaxPushBytes = 1 << 20

// DecodePush reads a push body and the job in it.
func DecodePush(r io.Reader) (enrollment.Job, *Push, error) {
	var p Push
	dec := json.NewDecoder(io.LimitReader(r, MaxPushBytes))
	if err := dec.Decode(&p); err != nil {
		return enrollment.Job{}, nil, fmt.Errorf("%w: %v", ErrBadPush, err)
	}
	if len(p.Message.Data) == 0 {
		return enrollment.Job{}, &p, fmt.Errorf("%w: no message data", ErrBadPush)
	}
	var j enrollment.Job
	if err := json.Unmarshal(p.Message.Data, &j); err != nil {
		return enrollment.Job{}, &p, fmt.Errorf("%w: data is not a job: %v", ErrBadPush, err)
	}
	if j.OrderID <= 0 || j.Kind == "" {
		return enrollment.Job{}, &p, fmt.Errorf("%w: job without kind or order id", ErrBadPush)
	}
	return j, &p, nil
}

// EncodePushData wraps message data in a push body (for tests that pull messages).
func EncodePushData(data []byte) []byte {
	b, _ := json.Marshal(map[string]any{"message": map[string]any{"data": base64.StdEncoding.EncodeToString(data)}})
	return b
}

// EncodePush builds a push body for j, as Pub/Sub would deliver it (for tests and tools).
func EncodePush(j enrollment.Job, subscription string, attempt int) []byte {
	data, _ := json.Marshal(j)
	b, _ := json.Marshal(map[string]any{
		"message": map[string]any{
			"data":       base64.StdEncoding.EncodeToString(data),
			"attributes": map[string]string{"kind": j.Kind},
			"messageId":  "1",
		},
		"subscription":    subscription,
		"deliveryAttempt": attempt,
	})
	return b
}
