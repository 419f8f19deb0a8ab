// Package metriclabels holds the values of the metrics' labels besides
// the refusal codes and the endpoint templates. Every label value comes
// from the configuration, from a closed set here, or (event_type) from a
// callback WeChat Pay signed, checked for shape: never a raw path, a query,
// a body value or a key.
package metriclabels
