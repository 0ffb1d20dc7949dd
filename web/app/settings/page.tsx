import type { Metadata } from "next";
import { Settings } from "./view";

export const metadata: Metadata = { title: "Settings" };

export default function Page() {
  return <Settings />;
}
