package jobs

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// Job outcomes, the values of the "outcome" label.
const (
	OutcomeCompleted   = "completed"
	OutcomeRetryable   = "retryable" // failed, will be retried
	OutcomeDiscarded   = "discarded" // failed for the last time
	OutcomeCancelled   = "cancelled"
	OutcomeSnoozed     = "snoozed"
	OutcomeInterrupted = "interrupted" // client shut down mid-run; runs again
)

// metrics are the job counters and run-time histogram, fed from River's
// event stream.
type metrics struct {
	total    *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roster_jobs_total",
			Help: "Background job runs by job kind and outcome.",
		}, []string{"kind", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "roster_job_duration_seconds",
			Help:    "Time background jobs spent running, by job kind.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"kind"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.total, err = register(reg, m.total); err != nil {
		return nil, err
	}
	if m.duration, err = register(reg, m.duration); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the collector already registered under
// the same name, so that a second Queue in one process (a restart in tests)
// shares the metrics instead of failing.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("jobs: register metrics: %w", err)
}

// observe records one River event.
func (m *metrics) observe(ev *river.Event) {
	if ev == nil || ev.Job == nil {
		return
	}
	var outcome string
	switch ev.Kind {
	case river.EventKindJobCompleted:
		outcome = OutcomeCompleted
	case river.EventKindJobFailed:
		outcome = OutcomeRetryable
		if ev.Job.State == rivertype.JobStateDiscarded {
			outcome = OutcomeDiscarded
		}
	case river.EventKindJobCancelled:
		outcome = OutcomeCancelled
	case river.EventKindJobSnoozed:
		outcome = OutcomeSnoozed
	case river.EventKindJobInterrupted:
		outcome = OutcomeInterrupted
	default:
		return
	}
	m.total.WithLabelValues(ev.Job.Kind, outcome).Inc()
	if ev.JobStats != nil {
		m.duration.WithLabelValues(ev.Job.Kind).Observe(ev.JobStats.RunDuration.Seconds())
	}
}
