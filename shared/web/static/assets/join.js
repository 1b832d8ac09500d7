// join.js
import { el } from "./gc.js";
