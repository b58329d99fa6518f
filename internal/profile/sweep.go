package profile

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"roster/internal/photo"
)

// StrayGrace is how old a stored photo version that is no one's photo
// must be before the sweep deletes it. A younger one may be an upload in
// flight, between storing its files and recording them; the work deadline
// of uploads (httpx DefaultTimeouts.UploadWork, 140 s) ends any upload
// long before this.
const StrayGrace = 10 * time.Minute

// sweepBatch is how many versions are checked against the users per query.
const sweepBatch = 500

// SweepPhotos deletes the stored photo versions that are no user's
// current photo and are older than StrayGrace at now (a version is the
// millisecond its upload was decoded, just before its files are stored),
// and returns how many it deleted. They
// are left by an upload cut off between storing its files and recording
// them (the process killed, the database gone), or by a replaced photo
// whose files could not be deleted then. A user who no longer exists has
// no current photo.
func (s *Service) SweepPhotos(ctx context.Context, now time.Time) (int, error) {
	if s.photos == nil {
		return 0, nil
	}
	cutoff := now.Add(-StrayGrace).UnixMilli()
	deleted := 0
	var batch []photo.StoredVersion
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		ids := make([]int64, len(batch))
		for i, v := range batch {
			ids[i] = v.UserID
		}
		current, err := s.db.Reader().PhotoVersions(ctx, ids)
		if err != nil {
			return err
		}
		for _, v := range batch {
			if v.Version >= cutoff || current[v.UserID] == v.Version {
				continue
			}
			if err := s.photos.DeletePhoto(ctx, v.UserID, v.Version); err != nil {
				return err
			}
			deleted++
		}
		batch = batch[:0]
		return nil
	}
	err := s.photos.Versions(ctx, func(v photo.StoredVersion) error {
		if v.Version >= cutoff {
			return nil
		}
		batch = append(batch, v)
		if len(batch) == sweepBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return deleted, fmt.Errorf("sweep photos: %w", err)
	}
	return deleted, nil
}

// SweepArgs is the periodic job that sweeps stray photo versions.
type SweepArgs struct{}

// Kind implements river.JobArgs.
func (SweepArgs) Kind() string { return "photo.sweep" }

type sweepWorker struct {
	river.WorkerDefaults[SweepArgs]
	s *Service
}

func (w *sweepWorker) Work(ctx context.Context, _ *river.Job[SweepArgs]) error {
	n, err := w.s.SweepPhotos(ctx, time.Now())
	if n > 0 {
		slog.InfoContext(ctx, "photo sweep: stray versions deleted", "count", n)
	}
	return err
}

// Workers registers the service's jobs with River: the photo sweep.
func (s *Service) Workers(w *river.Workers) error {
	return river.AddWorkerSafely(w, &sweepWorker{s: s})
}

// PeriodicJobs are the jobs the queue runs on a schedule: the sweep, at
// start and hourly.
func PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
		func() (river.JobArgs, *river.InsertOpts) { return SweepArgs{}, nil }, &river.PeriodicJobOpts{RunOnStart: true})}
}
