/** The API key the bundled simulator accepts in the demo (a test-mode key of no real account). */
export const DEMO_KEY = 'sk_test_demo_simulator';
