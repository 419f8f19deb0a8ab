// Package notification reads WeChat Pay's callbacks (回调通知) once their
// signature is verified: it parses the envelope strictly, decrypts its
// resource with the APIv3 key (AES-256-GCM) and builds the plaintext
// envelope the app receives, every other byte as WeChat Pay sent it.
package notification
