// Where each function lives. Locally one origin serves them all under /<function>;
// in the cloud, set each to its function URL (terraform prints them as outputs).
window.CYMBAL_CONFIG = {
  functions: {
    chat: "/chat",
    intent: "/intent",
    metrics: "/metrics",
  },
};
