// Package upload reads the media uploads of WeChat Pay APIv3
// (multipart/form-data bodies whose signature covers their "meta" part, not
// the body), strictly enough that WeChat Pay can only read the meta the
// proxy signed.
package upload
