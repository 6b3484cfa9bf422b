package app

import (
	"context"

	"simplemessenger/platform/contract"
	"simplemessenger/platform/events"

	"simplemessenger/services/profiles/internal/domain"
)

// SetAvatar checks the image and stores it. A refused image changes nothing.
func (a *Application) SetAvatar(ctx context.Context, userID, contentType string, data []byte) (domain.User, error) {
	// The type is checked before waiting for a decode slot: it costs nothing.
	if _, err := domain.AvatarMediaType(contentType); err != nil {
		return domain.User{}, err
	}
	select {
	case a.decodes <- struct{}{}:
	case <-ctx.Done():
		return domain.User{}, ctx.Err()
	}
	av, err := domain.NewAvatar(contentType, data)
	<-a.decodes
	if err != nil {
		return domain.User{}, err
	}
	u, err := a.repo.SetAvatar(ctx, userID, av, userEvent(events.UserUpdated))
	if err != nil {
		return domain.User{}, err
	}
	a.relay.Notify()
	return u, nil
}

// DeleteAvatar removes the avatar; removing none is not an error.
func (a *Application) DeleteAvatar(ctx context.Context, userID string) error {
	if err := a.repo.DeleteAvatar(ctx, userID, userEvent(events.UserUpdated)); err != nil {
		return err
	}
	a.relay.Notify()
	return nil
}

// Avatar returns a user's avatar. When one of the client's ETags (If-None-Match) is current, notModified is true
// and the bytes are not loaded.
func (a *Application) Avatar(ctx context.Context, userID string, ifNoneMatch func(etag string) bool) (av domain.Avatar, notModified bool, err error) {
	if !contract.ValidUserID(userID) {
		return domain.Avatar{}, false, ErrAvatarNotFound
	}
	if ifNoneMatch != nil {
		info, err := a.repo.AvatarInfo(ctx, userID)
		if err != nil {
			return domain.Avatar{}, false, err
		}
		if ifNoneMatch(info.ETag) {
			return info, true, nil
		}
	}
	av, err = a.repo.Avatar(ctx, userID)
	return av, false, err
}
