// Package apiv3 holds the signatures of WeChat Pay APIv3: the merchant's
// request signature (the Authorization header), the verification of WeChat
// Pay's signed responses and callbacks, the client invocation signatures that
// open the payment sheet, and the AES-256-GCM resources that callbacks and
// certificate downloads carry. Every message format is the one WeChat Pay
// documents and the official SDK implements; the tests hold them to the SDK.
package apiv3
