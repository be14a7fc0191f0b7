// The console's entry point: the page at `/` loads this bundle, which renders into <div id="app">.
import { render } from 'preact';
import { App } from './app.js';
import './styles.css';

render(<App />, document.getElementById('app')!);
