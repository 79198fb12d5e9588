// Package model describes a multi-task network as a DAG of layers: shapes,
// parameters and MACs are computed when a node is added, so a wrong shape is
// an error at build time. It also holds the zoo of torchvision backbones and
// the MTL-Split task head.
//
// The package never measures, predicts or decides anything: costs live in
// profile, choices in optimizer.
package model
