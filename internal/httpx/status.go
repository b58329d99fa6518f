package httpx

import (
	"net/http"

	"roster/internal/core"
)

// StatusOf maps a domain error to its HTTP status: the one place where error
// codes become statuses, shared by the pages and the API.
func StatusOf(err error) int {
	switch core.ErrorCode(err) {
	case "":
		return http.StatusOK
	case core.EINVALID:
		return http.StatusUnprocessableEntity
	case core.ENOTFOUND:
		return http.StatusNotFound
	case core.EFORBIDDEN:
		return http.StatusForbidden
	case core.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case core.ECONFLICT:
		return http.StatusConflict
	case core.ETOOMANY:
		return http.StatusTooManyRequests
	case core.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}
