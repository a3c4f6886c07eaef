// Package e2e holds the end-to-end tests of whole JellyBean jobs: the real binary built from ./job, real
// ranks running ONNX Runtime on a generated test split, the real TCP collective, a real sshd on loopback
// for "remote" hosts (127.0.0.2, 127.0.0.3), real mpirun, and real kills. It has no code besides tests.
//
// Needs: openssh-server and openssh-client (sshd, ssh, ssh-keygen), openmpi-bin (mpirun), espeak-ng and
// sox (gen-data), and the ONNX Runtime library (job/setup/fetch-onnxruntime.sh). Missing tools fail the
// tests with the apt-get command to run.
package e2e
