// Where each function lives: the one file that differs between the local stack and the cloud.
// Locally one origin serves them all under /<function>; in the cloud each is its function's URL
// (Terraform writes this file for the hosted page from its outputs: terraform/hosting.tf).
window.CYMBAL_CONFIG = {
  functions: {
    chat: "/chat",
    intent: "/intent",
    metrics: "/metrics",
  },
};
